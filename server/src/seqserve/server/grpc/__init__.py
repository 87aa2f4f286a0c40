"""The seqserve.v1 gRPC front-end: servicers, status mapping, health, reflection, server."""
