"""Log output: human-readable lines by default, one JSON object per line with `--log-json`.

Every record logged while a call is being served carries that call's request id (the
`x-request-id` metadata, see `seqserve.server.api.observe`); records from worker threads
or outside calls show `-`. Fields passed in `extra=` (the access log's `method`, `model`,
`code`, `duration_ms`) become top-level keys of the JSON object.

```
2026-11-24 23:59:01,123 INFO seqserve.server.access [5f0c2a9e41d7b3c8] Predict model=addition
  code=OK 0.84 ms peer=ipv4:127.0.0.1:40412          (one line; folded here)
{"time": "2026-11-24T23:59:01.123Z", "level": "INFO", "logger": "seqserve.server.access",
 "message": "Predict model=addition code=OK 0.84 ms peer=...", "request_id": "5f0c2a9e41d7b3c8",
 "method": "Predict", "model": "addition", "code": "OK", "duration_ms": 0.84,
 "peer": "ipv4:127.0.0.1:40412"}
```
"""

from __future__ import annotations

import json
import logging
import sys
import time

from seqserve.server.calls import current_call

HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
FIELDS = (
    "method",
    "model",
    "code",
    "duration_ms",
    "peer",
    "details",
)  # access-log extras, in order


class RequestIdFilter(logging.Filter):
    """Stamps `record.request_id` with the id of the call being served (or `-`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            call = current_call.get()
            record.request_id = call.request_id if call is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request
    id, the access-log fields when present, and the exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# Characters that end a line in some reader (str.splitlines, editors, log shippers): in the
# human format a caller's text could otherwise forge a log line of its own.
_LINE_BREAKS = {
    c: f"\\u{c:04x}" for c in (0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029)
}


class HumanFormatter(logging.Formatter):
    """`HUMAN_FORMAT`, one line per record: line breaks inside the message are escaped
    (`\\u2028`); a traceback still follows on lines of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record).translate(_LINE_BREAKS)


def _iso(created: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"


class RateLimitedLog:
    """At most `count` records per `period` seconds through `logger`; past that, records
    are dropped and counted, and the next one that passes says how many were dropped. For
    events a caller can cause at will (refused calls), so an attack cannot flood the log."""

    def __init__(self, logger: logging.Logger, count: int, period: float) -> None:
        self._logger = logger
        self._count = count
        self._period = period
        self._window = 0.0
        self._passed = 0
        self._dropped = 0

    def warning(self, message: str, *args: object) -> None:
        self.log(logging.WARNING, message, *args)

    def log(self, level: int, message: str, *args: object, **kwargs: object) -> None:
        if not self._logger.isEnabledFor(level):
            return
        now = time.monotonic()
        if now - self._window >= self._period:
            self._window, self._passed = now, 0
        if self._passed >= self._count:
            self._dropped += 1
            return
        self._passed += 1
        if self._dropped:
            message = f"{message} (and {self._dropped} more like it not logged)"
            self._dropped = 0
        self._logger.log(level, message, *args, **kwargs)  # type: ignore[arg-type]


def configure(level: str, as_json: bool) -> None:
    """The process's one log handler (stderr); called only by `__main__`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if as_json else HumanFormatter(HUMAN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
