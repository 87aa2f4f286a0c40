"""`python -m bench`: run the benchmark and write the report.

    python -m bench                # make bench: every system -> docs/benchmarks.md, docs/bench.png
    python -m bench --quick        # make bench-quick: seqserve and B0, a few seconds per point,
                                   # and one perf_analyzer run against seqserve
    python -m bench --report FILE  # rewrite the report from a saved results JSON

Exit status is non-zero when the harness itself breaks: seqserve not starting, a point
with no completed request, more than 1% of requests failing, or perf_analyzer not running
to completion (exit 0) against seqserve. No speed is asserted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from bench import report
from bench.run import ROOT, Config, Runner, log

ALL = ["B0", "E", "seqserve", "B1", "B3", "B4", "B2"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="seqserve and B0, short points")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--duration", type=float, help="measured seconds per point")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before each point")
    parser.add_argument("--concurrency", default="1,8,64,256")
    parser.add_argument("--systems", help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--procs", type=int, default=1, help="load generator processes")
    parser.add_argument("--clients-per-channel", type=int, default=16)
    parser.add_argument("--soak", type=float, default=60.0, help="seconds of the memory run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds re-measuring the points R1, R2 and R6 compare (0: none)",
    )
    parser.add_argument(
        "--pa-window", type=int, default=2000, help="perf_analyzer's window, milliseconds"
    )
    parser.add_argument(
        "--http-only",
        action="store_true",
        help="only the HTTP perf_analyzer points (JSON and binary, c=1 and c=64) of seqserve, "
        "or of --systems seqserve,B4",
    )
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the report goes")
    parser.add_argument("--report", type=Path, help="only rewrite the report from this JSON")
    parser.add_argument(
        "--merge",
        type=Path,
        help="with --report: first add this partial run's points (e.g. --http-only) to it",
    )
    return parser


def check(results: dict) -> list[str]:
    """What shows the harness (not the speed) is broken."""
    problems = [
        f"{s}: {w.splitlines()[0]}" for s, w in results["skipped"].items() if s == "seqserve"
    ]
    failed_peers = set(results.get("crashes", {})) | set(results["skipped"])
    for p in results["points"]:
        if p["system"] in failed_peers and p["system"] != "seqserve":
            continue  # a peer's crash is a measurement, reported as such
        name = f"{p['system']} {p['scenario']} c={p['concurrency']}"
        if p["requests"] == 0:
            problems.append(f"{name}: no request completed ({p['error_sample']})")
        elif p["errors"] > 0.01 * (p["requests"] + p["errors"]):
            problems.append(f"{name}: {p['errors']} errors ({p['error_sample']})")
    for p in results.get("pa", []):  # perf_analyzer must run to completion on seqserve
        if p["system"] == "seqserve" and p.get("exit") != 0:
            name = f"perf_analyzer {p['model']} {p['mode']} c={p['concurrency']}"
            problems.append(f"{name}: exit {p.get('exit')}: {p.get('error', '')[-400:]}")
    measured = results["points"] + results.get("pa", [])
    if "seqserve" in results["config"]["systems"] and not any(
        p["system"] == "seqserve" for p in measured
    ):
        problems.append("seqserve: no point measured")
    return problems


def merge(results: dict, partial: dict) -> None:
    """Add a partial run's points to a full run's results, saying where they come from."""
    for key in ("points", "pa"):
        results[key] = results.get(key, []) + partial.get(key, [])
    http = bool(partial["config"].get("http_only"))
    systems = ", ".join(partial["config"]["systems"])
    results.setdefault("reruns", []).append(
        {
            "system": systems,
            "argv": partial.get("argv", []),
            "what": f"{systems}'s HTTP figures" if http else f"{systems}'s figures",
            "when": f"later, at commit `{partial['machine']['commit']}`",
            "why": "merged beside the full run's points with `python -m bench --report "
            "FULL.json --merge PARTIAL.json`; the two were measured at different times on a "
            "shared machine",
        }
    )


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through Runner's `finally`: servers are stopped


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    args = _parser().parse_args(argv)
    if args.report:
        results = json.loads(args.report.read_text())
        if args.merge:
            merge(results, json.loads(args.merge.read_text()))
            args.report.write_text(json.dumps(results, indent=1, default=str))
        report.write(results, args.docs, command=results.get("command", ""))
        return 0
    systems = (
        args.systems.split(",")
        if args.systems
        else (["seqserve"] if args.http_only else ["B0", "seqserve"] if args.quick else ALL)
    )
    cfg = Config(
        models=args.models,
        out=args.out,
        duration=args.duration or (2.0 if args.quick else 8.0),
        warmup=args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0),
        concurrency=[int(c) for c in args.concurrency.split(",")],
        systems=systems,
        procs=args.procs,
        clients_per_channel=args.clients_per_channel,
        soak_seconds=args.soak,
        paired_rounds=args.rounds,
        b0_seconds=0.15 if args.quick else 0.5,
        quick=args.quick,
        pa_window_ms=args.pa_window,
        http_only=args.http_only,
    )
    cfg.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = Runner(cfg).run()
    results["command"] = "make bench-quick" if args.quick else "make bench"
    results["argv"] = sys.argv[1:]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = "quick" if args.quick else f"bench-{stamp}"
    path = cfg.out / f"{name}.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    log(f"results: {path} ({time.monotonic() - started:.0f} s)")
    if args.http_only:  # points to merge into a full run's results, then `--report`
        pass
    elif args.quick:
        from bench import costs

        (cfg.out / "quick.md").write_text(
            report.tables(results)
            + "\n"
            + costs.pa_tables(results)
            + "\n"
            + costs.http_table(results)
        )
    else:
        report.write(results, args.docs, command=results["command"])
        log(f"report: {args.docs / 'benchmarks.md'}, {args.docs / 'bench.png'}")
    problems = check(results)
    for problem in problems:
        log(f"HARNESS PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
