"""Server settings: one class, filled from `SEQSERVE_*` environment variables and CLI flags.

Nothing else in the server reads `os.environ`. The CLI (`__main__`) builds its `--flags`
from the fields below, so `--help` always lists every setting with its documentation.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_HTTP_PORT = 8000


class Device(enum.StrEnum):
    CPU = "cpu"
    CUDA = "cuda"
    AUTO = "auto"


class DecodeState(enum.StrEnum):
    HOST = "host"
    DEVICE = "device"
    AUTO = "auto"


class EventLoop(enum.StrEnum):
    AUTO = "auto"
    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


class WorkerPolicy(enum.StrEnum):
    NORMAL = "normal"
    IDLE = "idle"


class GraphOptimization(enum.StrEnum):
    DISABLE = "disable"
    BASIC = "basic"
    EXTENDED = "extended"
    ALL = "all"


DEFAULT_POLL = 10.0


class ModelControlMode(enum.StrEnum):
    NONE = "none"
    POLL = "poll"
    EXPLICIT = "explicit"


class Settings(BaseSettings):
    """Every knob of the server. Environment: `SEQSERVE_<FIELD>`; CLI: `--<field-with-dashes>`."""

    model_config = SettingsConfigDict(env_prefix="SEQSERVE_", extra="forbid")

    models: Path = Field(Path("models"), description="model repository: <name>/<version>/")
    host: str = Field("127.0.0.1", description="address to bind")
    port: int = Field(50051, ge=0, le=65535, description="port to bind; 0 picks a free port")
    port_file: Path | None = Field(
        None, description="write the bound port to this file once listening"
    )
    http_port: int | None = Field(
        None,
        ge=-1,
        le=65535,
        description="HTTP/JSON port on the same host (KServe v2 REST, seqserve.v1 JSON, the "
        "models page at /); 0: off; -1 picks a free port; unset: 8000, or a free port when "
        "--port is 0",
    )
    http_port_file: Path | None = Field(
        None, description="write the bound HTTP port to this file once listening"
    )
    http_body_timeout: float = Field(
        10.0,
        gt=0,
        description="seconds an HTTP client may take to send a request body; slower: 408",
    )
    device: Device = Field(
        Device.CPU, description="cpu, cuda (fail at start without CUDA), auto (cuda if available)"
    )
    intra_op_threads: int = Field(1, ge=0, description="onnxruntime intra-op threads (0: ORT)")
    inter_op_threads: int = Field(1, ge=0, description="onnxruntime inter-op threads (0: ORT)")
    graph_optimization: GraphOptimization = Field(
        GraphOptimization.ALL, description="onnxruntime graph optimisation level"
    )
    max_batch_size: int = Field(
        64, ge=1, description="most items per onnxruntime call of the dynamic batcher"
    )
    max_batch_delay_us: int = Field(
        0,
        ge=0,
        description="how long a batch waits for more items (0: run as soon as the worker is "
        "free; items arriving meanwhile form the next batch)",
    )
    max_active_sequences: int = Field(
        256, ge=1, description="seq2seq: most sequences decoded together (continuous batching)"
    )
    decode_state: DecodeState = Field(
        DecodeState.AUTO,
        description="seq2seq: where decoder state stays between steps: host (NumPy), device "
        "(onnxruntime I/O binding on the execution device), auto (device on CUDA, else host)",
    )
    max_queue: int = Field(
        1024, ge=1, description="most items waiting per model; past it RESOURCE_EXHAUSTED"
    )
    inline_max_items: int = Field(
        8,
        ge=0,
        description="fast lane: a request of at most this many items to an idle model runs at "
        "once on the event-loop thread, skipping the batching worker's thread hand-offs "
        "(0: every request goes through the worker)",
    )
    max_batch_items: int = Field(256, ge=1, description="most inputs in one Predict request")
    max_sessions: int = Field(10000, ge=1, description="most open stateful sessions")
    session_idle_timeout: float = Field(
        300.0, gt=0, description="seconds after which an idle session is evicted"
    )
    session_detached_grace: float = Field(
        10.0,
        gt=0,
        description="seconds a session whose stream ended without close or snapshot is "
        "kept for re-attaching by id (with a snapshot: the idle timeout)",
    )
    max_message_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="largest gRPC message received or sent, and largest HTTP request body",
    )
    default_deadline: float = Field(
        30.0, ge=0, description="seconds allowed to a call without a deadline (0: none)"
    )
    grace: float = Field(
        10.0, ge=0, description="seconds in-flight calls get to finish on SIGTERM/SIGINT"
    )
    max_input_length: int = Field(
        4096,
        ge=1,
        description="most symbols, values or characters in one input item, checked before "
        "decoding (models accept their manifest's length; this bounds the work on bad input)",
    )
    tls_cert: Path | None = Field(
        None, description="PEM server certificate chain; with --tls-key serves TLS only"
    )
    tls_key: Path | None = Field(None, description="PEM private key of --tls-cert")
    tls_client_ca: Path | None = Field(
        None, description="PEM CA bundle; set: mutual TLS, every client needs a cert it signed"
    )
    auth_tokens: SecretStr | None = Field(
        None,
        description="bearer tokens accepted in the authorization metadata, comma-separated "
        "(prefer the environment variable or --auth-tokens-file to a flag)",
    )
    auth_tokens_file: Path | None = Field(
        None, description="file of accepted bearer tokens, one per line (# comments)"
    )
    event_loop: EventLoop = Field(
        EventLoop.AUTO,
        description="uvloop (fail at start without it), asyncio (the standard library's), "
        "auto (uvloop when installed, else asyncio)",
    )
    worker_policy: WorkerPolicy = Field(
        WorkerPolicy.NORMAL,
        description="CPU scheduling of the batching and decode worker threads: normal, or "
        "idle (Linux SCHED_IDLE: they use only CPU time no other thread wants, so the gRPC "
        "front end never waits behind them; faster where the server has its cores to "
        "itself, slower where other processes keep them busy)",
    )
    reflection: bool = Field(True, description="serve gRPC server reflection")
    model_control: ModelControlMode = Field(
        ModelControlMode.NONE,
        description="none: load every model at start, rescan the repository on SIGHUP; "
        "poll: also rescan every --poll seconds; explicit: load only --load-model models at "
        "start, then what the ModelControl / RepositoryModelLoad calls ask",
    )
    poll: float = Field(
        0.0,
        ge=0,
        description="seconds between scans of the repository for new, changed or vanished "
        "versions (--model-control poll; a value alone selects poll; 0 with poll: 10)",
    )
    load_model: Annotated[list[str], NoDecode] = Field(
        [],
        description="--model-control explicit: a model to load at start (repeat the flag, "
        "or a comma-separated list in the environment variable)",
    )
    admin_tokens_file: Path | None = Field(
        None,
        description="file of bearer tokens, one per line (# comments), allowed to load and "
        "unload models; with token authentication on, only these may",
    )
    keep_versions: int = Field(
        0,
        ge=0,
        description="per model, serve the newest N versions that pass their checks; older "
        "ones are not loaded, and are unloaded once a newer one is ready and idle (0: every "
        "version)",
    )
    warmup_runs: int = Field(1, ge=0, description="warm-up inferences per graph before ready")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(False, description="log one JSON object per line")
    log_access: bool = Field(
        False,
        description="log every call (request id, model, status, duration) at INFO; by "
        "default at DEBUG, i.e. only with --log-level DEBUG",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="serve Prometheus metrics at http://HOST:PORT/metrics (0: off; 9090 "
        "is the usual choice)",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="address of the metrics endpoint; loopback by default, since /metrics "
        "has no authentication (0.0.0.0 or :: to let a scraper on another host read it)",
    )
    max_streams_per_connection: int = Field(
        256,
        ge=1,
        description="most concurrent calls (HTTP/2 streams) one connection may hold open, "
        "authenticated or not; further streams are refused (REFUSED_STREAM) by the "
        "transport before any server code runs",
    )
    allow_empty: bool = Field(
        False,
        description="start even when the repository holds no model (health stays "
        "NOT_SERVING until one is ready, e.g. filled later with --poll)",
    )
    report_modules: bool = Field(
        False,
        description="diagnostic: log the heavy modules (tensorflow, torch, ...) the process "
        "has imported once serving",
    )

    def http_bind_port(self) -> int | None:
        """The HTTP port to bind: None when off, 0 for a free one."""
        if self.http_port is None:
            return 0 if self.port == 0 else DEFAULT_HTTP_PORT
        if self.http_port == 0:
            return None
        return max(self.http_port, 0)

    @model_validator(mode="after")
    def _worker_policy_exists_here(self) -> Settings:
        if self.worker_policy is WorkerPolicy.IDLE and not hasattr(os, "SCHED_IDLE"):
            raise ValueError(
                "--worker-policy idle needs Linux's SCHED_IDLE scheduling policy, which this "
                "platform lacks; use --worker-policy normal"
            )
        return self

    @field_validator("load_model", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        """Names from repeated flags and/or comma-separated lists."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            return value
        return [n.strip() for item in items for n in str(item).split(",") if n.strip()]

    @model_validator(mode="after")
    def _model_control_settings_agree(self) -> Settings:
        if self.model_control is ModelControlMode.NONE and self.poll > 0:
            self.model_control = ModelControlMode.POLL  # --poll N alone: today's flag
        if self.model_control is ModelControlMode.POLL and self.poll == 0:
            self.poll = DEFAULT_POLL
        if self.load_model and self.model_control is not ModelControlMode.EXPLICIT:
            raise ValueError("--load-model needs --model-control explicit")
        if self.model_control is ModelControlMode.EXPLICIT and self.poll > 0:
            raise ValueError("--poll rescans the repository; --model-control explicit does not")
        return self

    @model_validator(mode="after")
    def _tls_files_go_together(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
        return self
