"""The `seqserve` command (also `python -m seqserve.client`).

gRPC core logs on its own to stderr (`I1203 ... Handshake failed ...`); those lines are
not for a person at a terminal, who gets one line per failure from the CLI instead. The
verbosity is read when gRPC is imported, so it is set here, before the CLI imports it.
`GRPC_VERBOSITY=debug seqserve ...` still shows them.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from seqserve.client import cli

    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
