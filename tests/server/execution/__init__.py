"""Tests of the execution package: batching, fast lane, scheduler, decode worker, threads."""
