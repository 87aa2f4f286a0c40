"""The benchmark run: every system and scenario in one process tree, one after another.

Order: machine facts, B0 (in-process, before any server), then each server in turn (E,
seqserve, B1, B3, B4): start, wait until ready, one parsed call per scenario as a check,
then the closed-loop points, then stop. seqserve also gets the bulk scenario (64
sequences per request), a 60 s memory run and a py-spy profile. B2 (Keras) runs last, as
it loads TensorFlow. Everything lands in one JSON file, from which `bench.report` writes
docs/benchmarks.md and docs/bench.png.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import perfanalyzer, systems
from bench.loadgen import Generator, Load
from bench.onnx_graphs import model_folder
from bench.procs import RssSampler, Server
from bench.systems import SCENARIOS, Scenario
from seqserve.server.eventloop import choose
from seqserve.server.settings import EventLoop

ROOT = systems.ROOT
# seqserve as the benchmark serves it: the worker threads yield the 2 shared cores to the
# front end (`seqserve.server.execution.workers`); B1 is the same server with batching off.
SEQSERVE_FLAGS = ["--worker-policy", "idle"]
B1_FLAGS = [*SEQSERVE_FLAGS, "--max-batch-size", "1", "--max-active-sequences", "1"]
# The points R1, R2 and R6 compare, and the systems each compares: measured again in turn.
# The project's generator on seqserve over KServe (beside seqserve.v1 on the same server).
KSERVE_SCENARIOS = ["reverse", "addition", "reverse_bulk64"]
PAIRED = [
    ("reverse", 1, ("E", "seqserve")),
    ("reverse", 64, ("E", "seqserve", "B1")),
    ("addition", 64, ("E", "seqserve", "B1")),
    ("recall", 64, ("E", "seqserve")),
]


@dataclass
class Config:
    models: Path
    out: Path  # results folder
    duration: float
    warmup: float
    concurrency: list[int]
    systems: list[str]
    procs: int = 1
    clients_per_channel: int = 16
    bulk_concurrency: list[int] = field(default_factory=lambda: [1, 8])
    soak_seconds: float = 60.0
    profile_seconds: float = 10.0
    b0_seconds: float = 0.5
    peer_batch: int = 64
    mlserver_delay_s: float = 0.001
    triton_delay_us: int = 0
    quick: bool = False
    paired_rounds: int = 3  # interleaved re-measurement of the points the ratios compare
    paired_seconds: float = 4.0
    pa_window_ms: int = 2000  # perf_analyzer's measurement window
    pa_trials: int = 3  # windows per point (three: perf_analyzer averages the last three)
    pa_bulk_concurrency: int = 8  # the 64-row requests' point
    pa_http_concurrency: tuple[int, ...] = (1, 64)  # the HTTP points (JSON and binary)
    http_only: bool = False  # only seqserve's HTTP perf_analyzer points


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def machine_facts() -> dict[str, Any]:
    info: dict[str, str] = {}
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    cpu = f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model "
    cpu += f"{info.get('model', '?')}, {float(info.get('cpu MHz', 0)):.0f} MHz)"
    mem = ""
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem = f"{int(f.readline().split()[1]) / 1e6:.1f} GB"
    versions: dict[str, str] = {"python": platform.python_version()}
    for pkg in ("grpcio", "protobuf", "onnxruntime", "numpy", "tensorflow-cpu", "keras"):
        try:
            from importlib.metadata import version

            versions[pkg] = version(pkg)
        except Exception:
            continue
    for venv, pkgs in (("mlserver", "mlserver"), ("pytriton", "nvidia-pytriton")):
        python = systems.venv_python(venv)
        if python.exists():
            got = subprocess.run(
                [str(python), "-c", f"import importlib.metadata as m; print(m.version('{pkgs}'))"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            if got:
                versions[pkgs] = got
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "event_loop": choose(EventLoop.AUTO).name,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "versions": versions,
        "commit": commit,
        "load_before": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


class Runner:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.logs = cfg.out / "logs"
        self.results: dict[str, Any] = {
            "config": {
                **{k: str(v) if isinstance(v, Path) else v for k, v in vars(cfg).items()},
                "seqserve_flags": SEQSERVE_FLAGS,
                "b1_flags": B1_FLAGS,
            },
            "machine": machine_facts(),
            "points": [],
            "paired": [],
            "checks": {},
            "skipped": {},
            "b0": {},
            "b2": {},
            "soak": {},
            "profile": {},
            "idle_rss_mb": {},
            "pa": [],  # perf_analyzer points (bench.perfanalyzer)
            "crashes": {},  # peers that died under load (then restarted for the rest)
        }
        self.gen = Generator(cfg.procs, cfg.clients_per_channel)

    # ---------------------------------------------------------------- points

    def point(
        self,
        system: str,
        scenario: Scenario,
        load: Load,
        concurrency: int,
        server: Server,
        gen: Generator | None = None,
    ) -> dict[str, Any]:
        cpu0 = server.cpu_s()
        t0 = time.monotonic()
        with RssSampler(server.rss_mb) as rss:
            result = (gen or self.gen).run(load, concurrency, self.cfg.duration, self.cfg.warmup)
        wall = time.monotonic() - t0
        result.update(
            system=system,
            scenario=scenario.name,
            concurrency=concurrency,
            server_rss_mb=rss.max_mb,
            server_cpu=(server.cpu_s() - cpu0) / wall,
        )
        self.results["points"].append(result)
        err = f", {result['errors']} errors ({result['error_sample']})" if result["errors"] else ""
        log(
            f"  {system:8s} {scenario.name:15s} c={concurrency:<4d} "
            f"{result['seq_per_s']:9.0f} seq/s  p50 {result['p50_ms']:7.2f} ms  "
            f"p99 {result['p99_ms']:7.2f} ms  srv cpu {result['server_cpu']:.2f} "
            f"gen cpu {result['gen_cpu']:.2f}  rss {rss.max_mb:.0f} MB{err}"
        )
        return result

    def perf_analyzer(
        self,
        system: str,
        server: Server,
        target: str,
        models: list[str],
        bulk: bool = True,
        restart: Callable[[], None] | None = None,
    ) -> None:
        """perf_analyzer against a KServe server: each model unary and streaming at every
        concurrency, then 64-row requests (unary), then, on a server with a REST port, each
        model over HTTP with JSON and with binary tensors at `pa_http_concurrency`; quick:
        one unary point on reverse and one binary HTTP point; `http_only`: the HTTP points."""
        cfg = self.cfg
        plan: list[tuple[str, str, int, int]] = []
        http = ["http-json", "http-binary"] if server.http else []
        if cfg.quick:
            plan.append(("reverse", "unary", 1, 8))
            plan.extend(("reverse", "http-binary", 1, 8) for _ in http[:1])
        else:
            if not cfg.http_only:
                for model in models:
                    for mode in ("unary", "stream"):
                        plan.extend((model, mode, 1, c) for c in cfg.concurrency)
                if bulk:
                    plan.append(("reverse", "unary", 64, cfg.pa_bulk_concurrency))
            for model in models:
                for mode in http:
                    plan.extend((model, mode, 1, c) for c in cfg.pa_http_concurrency)
        for model, mode, batch, c in plan:
            data = perfanalyzer.input_data(cfg.out / "pa", model, peer=system.startswith("B"))
            result = perfanalyzer.run_point(
                target,
                server,
                model,
                c,
                data=data,
                out=cfg.out / "pa",
                streaming=mode == "stream",
                http=(server.http, mode.removeprefix("http-"))
                if server.http and mode.startswith("http-")
                else None,
                batch=batch,
                window_ms=1000 if cfg.quick else cfg.pa_window_ms,
                trials=3 if cfg.quick else cfg.pa_trials,
            )
            result["system"] = system
            self.results["pa"].append(result)
            err = f"  FAILED exit {result.get('exit')}: {result.get('error', '')[-300:]}"
            log(
                f"  pa {system:8s} {model:9s} {result['mode']:11s} b={batch:<2d} c={c:<4d} "
                + (
                    err
                    if result.get("error")
                    else f"{result['infer_per_s'] or 0:9.0f} inf/s  p50 {result['p50_ms']:7.2f} ms"
                    f"  p99 {result['p99_ms']:7.2f} ms  srv cpu/inf "
                    f"{result['server_cpu_ms'] or 0:.3f} ms  gen cpu/inf "
                    f"{result['gen_cpu_ms'] or 0:.3f} ms"
                )
            )
            if not server.alive():
                tail = server.tail(40).splitlines()
                signal = [line for line in tail if "Signal" in line or "rror" in line][-1:]
                self.crashed(
                    system,
                    f"died under perf_analyzer {model} {result['mode']} c={c}: "
                    + (signal[0].strip() if signal else "(no message)")
                    + "\n"
                    + "\n".join(tail[-8:]),
                )
                if restart is None:
                    log(f"{system}: server died under perf_analyzer; its remaining points not run")
                    return
                restart()

    def skip(self, system: str, why: str) -> None:
        log(f"{system}: NOT RUN: {why.splitlines()[0] if why else ''}")
        self.results["skipped"][system] = why

    def serve(
        self,
        system: str,
        server: Server,
        ready: Callable[[], Any],
        check: Callable[[Scenario], Any],
        load: Callable[[Scenario], Load],
        scenarios: list[str],
        extra: Callable[[Server], None] | None = None,
    ) -> None:
        log(f"{system}: starting: {' '.join(server.cmd)}")
        t0 = time.monotonic()
        points_done = False
        try:
            server.start()
            asyncio.run(ready())
            self.results.setdefault("startup_s", {})[system] = time.monotonic() - t0
            self.results["idle_rss_mb"][system] = server.rss_mb()
            log(f"{system}: ready in {time.monotonic() - t0:.1f} s, {server.rss_mb():.0f} MB")
            for name in scenarios:
                scenario = SCENARIOS[name]
                sample = asyncio.run(check(scenario))
                self.results["checks"][f"{system}/{name}"] = sample
                log(f"{system}: check {sample}")
                concurrency = (
                    self.cfg.bulk_concurrency if scenario.per_request > 1 else self.cfg.concurrency
                )
                for c in concurrency:
                    self.point(system, scenario, load(scenario), c, server)
                    if not server.alive():
                        raise RuntimeError(f"{system} exited during {name} c={c}")
            points_done = True
            if extra is not None:
                extra(server)
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            why = f"{detail}\n{server.tail()}" if server.tail() not in detail else detail
            if points_done or extra is None or system == "seqserve":
                self.skip(system, why)
            else:  # a peer that crashed under the generator: recorded, then restarted once
                self.crashed(system, f"{why}\n(restarted once for its perf_analyzer points)")
                self.restart_for(system, server, ready, extra)
        finally:
            server.stop()

    def crashed(self, system: str, why: str) -> None:
        log(f"{system}: CRASHED: {why.splitlines()[0] if why else ''}")
        crashes = self.results.setdefault("crashes", {})
        crashes[system] = f"{crashes[system]}\n\n{why}" if system in crashes else why

    def restart_server(self, system: str, server: Server, ready: Callable[[], Any]) -> None:
        log(f"{system}: restarting")
        server.stop()
        server.start()
        asyncio.run(ready())

    def restart_for(
        self,
        system: str,
        server: Server,
        ready: Callable[[], Any],
        extra: Callable[[Server], None],
    ) -> None:
        """Start a crashed peer again for its remaining (perf_analyzer) points."""
        server.stop()
        try:
            log(f"{system}: restarting for its perf_analyzer points")
            server.start()
            asyncio.run(ready())
            extra(server)
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            self.skip(system, f"after a restart: {detail}\n{server.tail()}")

    # ---------------------------------------------------------------- systems

    def run_e(self) -> None:
        server, target = systems.echo_server(self.logs)
        self.serve(
            "E",
            server,
            lambda: systems.wait_seqserve(target, [], server, 30),
            lambda s: systems.seqserve_check(target, s),
            lambda s: systems.seqserve_load(target, s),
            ["reverse", "addition", "recall"],
            None if self.cfg.quick or self.cfg.procs > 1 else self.e_extras(target),
        )

    def e_extras(self, target: str) -> Callable[[Server], None]:
        two_procs = self.e_two_procs(target)

        def extras(server: Server) -> None:
            self.perf_analyzer("E", server, target, ["reverse"])
            two_procs(server)

        return extras

    def e_two_procs(self, target: str) -> Callable[[Server], None]:
        """E again with a second generator process: is one process the ceiling?"""

        def extra(server: Server) -> None:
            two = Generator(2, self.cfg.clients_per_channel)
            try:
                scenario = SCENARIOS["reverse"]
                for c in (64, 256):
                    load = systems.seqserve_load(target, scenario)
                    self.point("E2", scenario, load, c, server, two)
            finally:
                two.close()

        return extra

    def run_seqserve(self, system: str, flags: list[str], scenarios: list[str]) -> None:
        server, target = systems.seqserve_server(system, self.cfg.models, self.logs, flags)
        models = sorted({SCENARIOS[s].model for s in scenarios} or {"reverse", "addition"})
        extra = self.seqserve_extras(target) if system == "seqserve" else None
        self.serve(
            system,
            server,
            lambda: systems.wait_seqserve(target, models, server, 60),
            lambda s: systems.seqserve_check(target, s),
            lambda s: systems.seqserve_load(target, s),
            scenarios,
            extra,
        )

    def seqserve_extras(self, target: str) -> Callable[[Server], None]:
        def extras(server: Server) -> None:
            self.perf_analyzer("seqserve", server, target, ["reverse", "addition"])
            if self.cfg.quick or self.cfg.http_only:
                return
            self.kserve_points("seqserve-kserve", server, target, KSERVE_SCENARIOS)
            self.soak(server, systems.seqserve_load(target, SCENARIOS["reverse"]))
            self.profile(server, systems.seqserve_load(target, SCENARIOS["reverse"]))

        return extras

    def soak(self, server: Server, load: Load) -> None:
        secs = self.cfg.soak_seconds
        if secs <= 0:  # --soak 0: no memory run
            return
        log(f"seqserve: memory run, reverse c=64 for {secs:.0f} s")
        with RssSampler(server.rss_mb, every=1.0) as rss:
            result = self.gen.run(load, 64, secs, 0.0)
        self.results["soak"] = {"seconds": secs, "rss": rss.samples, "point": result}
        log(f"seqserve: memory run {rss.samples[0][1]:.0f} -> {rss.samples[-1][1]:.0f} MB")

    def profile(self, server: Server, load: Load) -> None:
        spy = str(Path(sys.executable).parent / "py-spy")
        spy = spy if Path(spy).exists() else shutil.which("py-spy") or spy
        if not Path(spy).exists():
            self.results["profile"] = {"error": "py-spy not installed (make install)"}
            return
        out = self.cfg.out / "profile-seqserve-reverse-c64.txt"
        secs = self.cfg.profile_seconds
        log(f"seqserve: py-spy profile, reverse c=64 for {secs:.0f} s")
        cmd = [
            spy,
            "record",
            "-p",
            str(server.pid),
            "-d",
            str(int(secs)),
            "-r",
            "250",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
            "--gil",  # only the thread holding the GIL: where Python time goes
        ]
        spy_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        result = self.gen.run(load, 64, secs, 0.5)
        text = spy_proc.communicate(timeout=60)[0].decode(errors="replace")
        self.results["profile"] = {
            "file": str(out),
            "log": text[-500:],
            "rate": 250,
            "seconds": secs,
            "result": result,
        }

    def kserve_points(self, system: str, server: Server, target: str, names: list[str]) -> None:
        """The project's generator over KServe ModelInfer, on a server already up."""
        oip = systems.kserve_module(self.cfg.out / "gen")
        for name in names:
            scenario = SCENARIOS[name]
            sample = asyncio.run(systems.kserve_check(oip, target, scenario, seqserve=True))
            self.results["checks"][f"{system}/{name}"] = sample
            log(f"{system}: check {sample}")
            load = systems.kserve_load(oip, target, scenario, seqserve=True)
            bulk = scenario.per_request > 1
            for c in self.cfg.bulk_concurrency if bulk else self.cfg.concurrency:
                self.point(system, scenario, load, c, server)

    def run_paired(self) -> None:
        """E, seqserve and B1 up together; the points the ratio targets compare, measured
        one system after the other, `paired_rounds` times. Each sweep measures a system
        minutes after the one it is compared with, and this machine drifts by more than
        some of the targets' margins in that time."""
        started = [
            ("E", *systems.echo_server(self.logs)),
            (
                "seqserve",
                *systems.seqserve_server("seqserve", self.cfg.models, self.logs, SEQSERVE_FLAGS),
            ),
            ("B1", *systems.seqserve_server("B1", self.cfg.models, self.logs, B1_FLAGS)),
        ]
        rounds, secs = self.cfg.paired_rounds, self.cfg.paired_seconds
        log(f"interleaved: E, seqserve, B1 together, {rounds} rounds of {secs:g} s points")
        try:
            for name, server, target in started:
                server.start()
                models = [] if name == "E" else ["reverse", "addition", "recall"]
                asyncio.run(systems.wait_seqserve(target, models, server, 60))
            targets = {name: target for name, _, target in started}
            for r in range(rounds):
                for scenario_name, c, names in PAIRED:
                    scenario = SCENARIOS[scenario_name]
                    for name in names:
                        load = systems.seqserve_load(targets[name], scenario)
                        result = self.gen.run(load, c, secs, min(self.cfg.warmup, 1.0))
                        result.update(system=name, scenario=scenario_name, concurrency=c, round=r)
                        self.results["paired"].append(result)
                        log(
                            f"  round {r + 1} {name:8s} {scenario_name:9s} c={c:<3d} "
                            f"{result['seq_per_s']:7.0f} seq/s  p50 {result['p50_ms']:6.2f} ms"
                        )
        except Exception as exc:
            self.skip("interleaved", "".join(traceback.format_exception_only(exc)).strip())
        finally:
            for _, server, _ in started:
                server.stop()

    def run_mlserver(self) -> None:
        why = systems.venv_ready("mlserver")
        if why:
            self.skip("B3", why)
            return
        names = ["reverse", "addition"]
        oip = systems.kserve_module(self.cfg.out / "gen")
        server, target = systems.mlserver_server(
            self.cfg.models,
            names,
            self.cfg.out,
            self.logs,
            self.cfg.peer_batch,
            self.cfg.mlserver_delay_s,
        )
        self.serve(
            "B3",
            server,
            lambda: systems.wait_kserve(oip, target, names, server, 120),
            lambda s: systems.kserve_check(oip, target, s),
            lambda s: systems.kserve_load(oip, target, s),
            names,
        )

    def run_pytriton(self) -> None:
        why = systems.venv_ready("pytriton")
        if why:
            self.skip("B4", why)
            return
        names = ["reverse", "addition"]
        oip = systems.kserve_module(self.cfg.out / "gen")
        server, target = systems.pytriton_server(
            self.cfg.models, names, self.logs, self.cfg.peer_batch, self.cfg.triton_delay_us
        )
        self.serve(
            "B4",
            server,
            lambda: systems.wait_kserve(oip, target, names, server, 120),
            lambda s: systems.kserve_check(oip, target, s),
            lambda s: systems.kserve_load(oip, target, s),
            [] if self.cfg.http_only else [*names, "reverse_bulk64"],
            lambda server: self.perf_analyzer(
                "B4",
                server,
                target,
                names,
                restart=lambda: self.restart_server(
                    "B4", server, lambda: systems.wait_kserve(oip, target, names, server, 120)
                ),
            ),
        )

    def run_subprocess(self, system: str, key: str, cmd: list[str], timeout: float) -> None:
        log(f"{system}: {' '.join(cmd)}")
        try:
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        except subprocess.TimeoutExpired:
            self.skip(system, f"timed out after {timeout:.0f} s")
            return
        (self.logs / f"{system}.log").write_text(done.stderr)
        if done.returncode != 0:
            self.skip(system, f"exit {done.returncode}: {done.stderr.strip()[-1500:]}")
            return
        self.results[key] = json.loads(done.stdout)
        log(f"{system}: {json.dumps(self.results[key])[:400]}")

    def run_b0(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "bench.inprocess",
            "--models",
            str(self.cfg.models),
            "--seconds",
            str(self.cfg.b0_seconds),
        ]
        self.run_subprocess("B0", "b0", cmd, 300)

    def run_b2(self) -> None:
        cmd = [sys.executable, "-m", "bench.keras_baseline", "--models", str(self.cfg.models)]
        self.run_subprocess("B2", "b2", cmd, 600)

    # ---------------------------------------------------------------- all

    def run(self) -> dict[str, Any]:
        self.logs.mkdir(parents=True, exist_ok=True)
        steps: dict[str, Callable[[], None]] = {
            "B0": self.run_b0,
            "E": self.run_e,
            "seqserve": lambda: self.run_seqserve(
                "seqserve",
                SEQSERVE_FLAGS,
                []
                if self.cfg.http_only
                else ["reverse", "addition", "recall"]
                + ([] if self.cfg.quick else ["reverse_bulk64"]),
            ),
            "B1": lambda: self.run_seqserve("B1", B1_FLAGS, ["reverse", "addition", "recall"]),
            "interleaved": self.run_paired,
            "B3": self.run_mlserver,
            "B4": self.run_pytriton,
            "B2": self.run_b2,
        }
        t0 = time.monotonic()
        missing = []
        for model in ("reverse", "addition", "recall"):
            try:
                model_folder(self.cfg.models, model)
            except (FileNotFoundError, NotADirectoryError) as exc:
                missing.append(str(exc))
        if missing:  # nothing can run: say so at once instead of waiting for servers
            for name in self.cfg.systems:
                self.skip(name, "models missing (make export): " + "; ".join(missing))
            self.gen.close()
            return self.results
        wanted = set(self.cfg.systems)
        if not self.cfg.quick and self.cfg.paired_rounds > 0 and {"E", "seqserve", "B1"} <= wanted:
            wanted.add("interleaved")
        try:
            for name in steps:
                if name in wanted:
                    steps[name]()
        finally:
            self.gen.close()
        self.results["machine"]["load_after"] = os.getloadavg()
        self.results["wall_s"] = time.monotonic() - t0
        return self.results
