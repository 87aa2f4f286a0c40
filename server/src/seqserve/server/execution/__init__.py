"""How work runs: batching, the fast lane, the decode worker and its scheduler, threads, deadlines.

Engines hand this package their graph calls; nothing here imports grpc or a front-end.
"""
