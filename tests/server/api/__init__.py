"""Tests of the gRPC front-ends and their shared plumbing."""
