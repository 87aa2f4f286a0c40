"""The seqserve.v1 gRPC front-end: the servicer and its wire conversions."""
