"""The report's KServe part: perf_analyzer's tables and the cost-per-inference targets.

Every figure here is one point of one run: perf_analyzer's points (`results["pa"]`,
`bench.perfanalyzer`) and the project's generator's points (`results["points"]`). The
targets are judged on the server's CPU time per inference, which does not depend on who
else shares the cores, with throughput and latency beside it.
"""

from __future__ import annotations

from typing import Any

from bench.report import _fmt, _ms, _points, by_concurrency, cpu_ms

PA_SYSTEMS = {
    "E": "E: do-nothing grpc.aio KServe server",
    "seqserve": "seqserve",
    "B4": "B4: Triton (PyTriton)",
}


def _pa(results: dict[str, Any]) -> dict[tuple[str, str, str, int, int], dict[str, Any]]:
    return {
        (p["system"], p["model"], p["mode"], p["batch"], p["concurrency"]): p
        for p in results.get("pa", [])
    }


def _ok(p: dict[str, Any] | None) -> bool:
    return p is not None and p.get("exit") == 0 and bool(p.get("infer_per_s"))


def _pa_cell(p: dict[str, Any] | None) -> str:
    if p is None:
        return "—"
    if not _ok(p):
        first = (p.get("error") or "no result").strip().splitlines()
        return f"failed (exit {p.get('exit')}): {first[-1][:80] if first else ''}"
    cpu = p.get("server_cpu_ms")
    cost = f" · {cpu:.3f} ms CPU" if cpu is not None else ""
    return f"**{_fmt(p['infer_per_s'])}**/s · {_ms(p['p50_ms'])} / {_ms(p['p99_ms'])} ms{cost}"


def pa_tables(results: dict[str, Any]) -> str:
    """One table per model and gRPC mode: systems by concurrency."""
    points = [p for p in results.get("pa", []) if p["mode"] in ("unary", "stream")]
    if not points:
        return "perf_analyzer did not run.\n"
    by = _pa(results)
    out: list[str] = []
    groups = sorted(
        {(p["model"], p["mode"], p["batch"]) for p in points}, key=lambda g: (g[2], g[0], g[1])
    )
    for model, mode, batch in groups:
        cs = sorted(
            {
                p["concurrency"]
                for p in points
                if (p["model"], p["mode"], p["batch"]) == (model, mode, batch)
            }
        )
        how = "`ModelStreamInfer` (`--streaming`)" if mode == "stream" else "`ModelInfer`"
        rows = f", {batch} rows per request" if batch > 1 else ""
        out.append(f"#### perf_analyzer: `{model}`, {how}{rows}\n")
        table = {
            label: [by.get((system, model, mode, batch, c)) for c in cs]
            for system, label in PA_SYSTEMS.items()
        }
        out += by_concurrency(cs, table, _pa_cell)
    return "\n".join(out)


HTTP_MODES = {
    "unary": "gRPC `ModelInfer`",
    "http-binary": "HTTP, binary",
    "http-json": "HTTP, JSON",
}


def http_table(results: dict[str, Any]) -> str:
    """The HTTP points beside the gRPC ones of the same system, model and concurrency."""
    http = [p for p in results.get("pa", []) if p["mode"].startswith("http-")]
    if not http:
        return "perf_analyzer did not run over HTTP.\n"
    by = _pa(results)
    out = [
        "| system | model | c | " + " | ".join(HTTP_MODES.values()) + " |",
        "|---|---|---|" + "---|" * len(HTTP_MODES),
    ]
    for system, model, c in sorted({(p["system"], p["model"], p["concurrency"]) for p in http}):
        cells = [_pa_cell(by.get((system, model, mode, 1, c))) for mode in HTTP_MODES]
        out.append(
            f"| {PA_SYSTEMS.get(system, system)} | `{model}` | {c} | " + " | ".join(cells) + " |"
        )
    return "\n".join(out) + "\n"


def pa_details(results: dict[str, Any]) -> str:
    out = [
        "| system | model | mode | rows | c | exit | inferences/s | p50 ms | p99 ms | "
        "server queue ms | server compute ms | server CPU ms/inf | perf_analyzer CPU ms/inf | "
        "inferences counted |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in results.get("pa", []):
        out.append(
            f"| {p['system']} | {p['model']} | {p['mode']} | {p['batch']} | {p['concurrency']} | "
            f"{p.get('exit')} | {_fmt(p.get('infer_per_s'))} | {_ms(p.get('p50_ms'))} | "
            f"{_ms(p.get('p99_ms'))} | {_ms(p.get('server_queue_ms'))} | "
            f"{_ms(p.get('server_compute_ms'))} | {_fmt(p.get('server_cpu_ms'), 3)} | "
            f"{_fmt(p.get('gen_cpu_ms'), 3)} | {p.get('inferences', '—')} |"
        )
    return "\n".join(out)


def pa_failures(results: dict[str, Any]) -> str:
    bad = [p for p in results.get("pa", []) if not _ok(p)]
    if not bad:
        return "Every perf_analyzer run exited 0."
    lines = []
    for p in bad:
        error = (p.get("error") or "").strip().replace("\n", "\n  ")
        lines.append(
            f"- **{p['system']}** `{p['model']}` {p['mode']} c={p['concurrency']}: exit "
            f"{p.get('exit')}\n\n  ```\n  {error[-900:]}\n  ```"
        )
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(name, target, measured, PASS/MISS/n/a) rows of the cost-per-request targets."""
    pa = _pa(results)
    pts = _points(results)
    rows: list[tuple[str, str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else "PASS" if ok else "MISS"

    def pa_point(system: str, model: str, mode: str = "unary", c: int = 64, b: int = 1) -> Any:
        p = pa.get((system, model, mode, b, c))
        return p if _ok(p) else None

    def gen_point(system: str, scenario: str, c: int) -> Any:
        p = pts.get((system, scenario, c))
        return p if p is not None and p["requests"] else None

    # P1: CPU per inference against the do-nothing server, same protocol and generator
    for model in ("reverse", "addition"):
        s, e = pa_point("seqserve", model), pa_point("E", "reverse")
        if s and e and s.get("server_cpu_ms") and e.get("server_cpu_ms"):
            ratio = s["server_cpu_ms"] / e["server_cpu_ms"]
            rows.append(
                (
                    f"P1 KServe ({model})",
                    "seqserve CPU/inference at c=64 <= 1.3x E's (perf_analyzer, unary; E is "
                    "reverse-shaped)",
                    f"{s['server_cpu_ms']:.3f} vs {e['server_cpu_ms']:.3f} ms = {ratio:.2f}x",
                    verdict(ratio <= 1.3),
                )
            )
        else:
            rows.append((f"P1 KServe ({model})", "<= 1.3x E", "not measured", "n/a"))
    for scen in ("reverse", "addition"):
        s, e = gen_point("seqserve", scen, 64), gen_point("E", scen, 64)
        sc, ec = (cpu_ms(s) if s else None), (cpu_ms(e) if e else None)
        if sc and ec:
            rows.append(
                (
                    f"P1 seqserve.v1 ({scen})",
                    "seqserve CPU/inference at c=64 <= 1.3x E's (Python generator)",
                    f"{sc:.3f} vs {ec:.3f} ms = {sc / ec:.2f}x",
                    verdict(sc / ec <= 1.3),
                )
            )
        else:
            rows.append((f"P1 seqserve.v1 ({scen})", "<= 1.3x E", "not measured", "n/a"))
    # P2: against the peers on KServe
    for model in ("reverse", "addition"):
        s, b = pa_point("seqserve", model), pa_point("B4", model)
        if s and b and s.get("server_cpu_ms") and b.get("server_cpu_ms"):
            cost = s["server_cpu_ms"] / b["server_cpu_ms"]
            speed = s["infer_per_s"] / b["infer_per_s"]
            ok = cost <= 0.75 and speed >= 1.3 and s["p99_ms"] < b["p99_ms"]
            rows.append(
                (
                    f"P2 vs B4 ({model})",
                    "perf_analyzer, c=64: CPU/inference <= 0.75x B4's, throughput >= 1.3x, "
                    "p99 below",
                    f"CPU {s['server_cpu_ms']:.3f} vs {b['server_cpu_ms']:.3f} ms = {cost:.2f}x; "
                    f"{_fmt(s['infer_per_s'])} vs {_fmt(b['infer_per_s'])}/s = {speed:.2f}x; "
                    f"p99 {_ms(s['p99_ms'])} vs {_ms(b['p99_ms'])} ms",
                    verdict(ok),
                )
            )
        else:
            why = _missing(results, "B4", model, "unary")
            rows.append((f"P2 vs B4 ({model})", "<= 0.75x CPU, >= 1.3x B4", why, "n/a"))
        s, b = pa_point("seqserve", model, "stream"), pa_point("B4", model, "stream")
        if s and b:
            speed = s["infer_per_s"] / b["infer_per_s"]
            rows.append(
                (
                    f"P2 streaming vs B4 ({model})",
                    "perf_analyzer --streaming, c=64: throughput >= 1.5x B4's",
                    f"{_fmt(s['infer_per_s'])} vs {_fmt(b['infer_per_s'])}/s = {speed:.2f}x; CPU "
                    f"{_fmt(s.get('server_cpu_ms'), 3)} vs {_fmt(b.get('server_cpu_ms'), 3)} ms",
                    verdict(speed >= 1.5),
                )
            )
        else:
            why = _missing(results, "B4", model, "stream")
            rows.append((f"P2 streaming vs B4 ({model})", ">= 1.5x B4", why, "n/a"))
        s, b = gen_point("seqserve-kserve", model, 64), gen_point("B3", model, 64)
        if s and b:
            speed = s["seq_per_s"] / b["seq_per_s"]
            ok = speed >= 2.5 and s["p99_ms"] < b["p99_ms"]
            rows.append(
                (
                    f"P2 vs B3 ({model})",
                    "Python generator over KServe, c=64: throughput >= 2.5x B3's, p99 below",
                    f"{_fmt(s['seq_per_s'])} vs {_fmt(b['seq_per_s'])}/s = {speed:.2f}x; p99 "
                    f"{_ms(s['p99_ms'])} vs {_ms(b['p99_ms'])} ms; CPU {_fmt(cpu_ms(s), 3)} vs "
                    f"{_fmt(cpu_ms(b), 3)} ms",
                    verdict(ok),
                )
            )
        else:
            rows.append((f"P2 vs B3 ({model})", ">= 2.5x B3", _missing(results, "B3"), "n/a"))

    # P3: one answer per request; bulk against B4, with either generator
    def bulk_row(name: str, s: Any, b: Any, rate: str, cost: Any) -> None:
        if not (s and b):
            rows.append((name, ">= 1.3x B4", _missing(results, "B4"), "n/a"))
            return
        speed = s[rate] / b[rate]
        rows.append(
            (
                name,
                "64 rows per request over KServe, c=8: >= 1.3x B4",
                f"{_fmt(s[rate])} vs {_fmt(b[rate])} seq/s = {speed:.2f}x; CPU "
                f"{_fmt(cost(s), 3)} vs {_fmt(cost(b), 3)} ms/seq",
                verdict(speed >= 1.3),
            )
        )

    bulk_row(
        "P3 bulk, perf_analyzer",
        pa_point("seqserve", "reverse", b=64, c=8),
        pa_point("B4", "reverse", b=64, c=8),
        "infer_per_s",
        lambda p: p.get("server_cpu_ms"),
    )
    bulk_row(
        "P3 bulk, Python generator",
        gen_point("seqserve-kserve", "reverse_bulk64", 8),
        gen_point("B4", "reverse_bulk64", 8),
        "seq_per_s",
        cpu_ms,
    )
    # P4: perf_analyzer runs to completion against seqserve
    mine = [p for p in results.get("pa", []) if p["system"] == "seqserve"]
    failed = [p for p in mine if p.get("exit") != 0]
    rows.append(
        (
            "P4 perf_analyzer",
            "exits 0 against seqserve in every mode measured",
            f"{len(mine) - len(failed)} of {len(mine)} runs exited 0"
            + (f" (failed: {', '.join(_name(p) for p in failed)})" if failed else ""),
            verdict(bool(mine) and not failed) if mine else "n/a",
        )
    )
    return rows


def _name(p: dict[str, Any]) -> str:
    return f"{p['model']} {p['mode']} c={p['concurrency']}"


def _missing(results: dict[str, Any], system: str, model: str = "", mode: str = "") -> str:
    """Why a peer's figure is absent: its perf_analyzer run failed, or it did not run."""
    for p in results.get("pa", []):
        same = (not model or p["model"] == model) and (not mode or p["mode"] == mode)
        if p["system"] == system and same and p["concurrency"] == 64 and p.get("exit") != 0:
            return f"not measured: {system} crashed under perf_analyzer {_name(p)} (below)"
    why = results.get("skipped", {}).get(system)
    if why:
        return f"not measured: {system} did not run ({why.strip().splitlines()[0][:160]})"
    return "not measured"


def target_table(results: dict[str, Any]) -> str:
    lines = ["| target | bar | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | **{d}** |" for a, b, c, d in targets(results)]
    return "\n".join(lines)
