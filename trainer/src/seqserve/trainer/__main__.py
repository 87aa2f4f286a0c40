"""``python -m seqserve.trainer train|export``: fit, gate and export the tutorial models.

    train   fit every selected model whose fingerprint has no cached weights yet
    export  write a new version of every selected model whose newest version has another
            fingerprint (training first if needed), then rewrite models/REPORT.md

A model whose training code, data spec and seed are unchanged is neither refitted nor
re-exported; ``--force`` does both again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from seqserve.trainer import cache, catalog, repository
from seqserve.trainer.fingerprint import fingerprint

DEFAULT_SEED = 20240611


def _wall_seconds() -> float:
    """Seconds since this process started (interpreter start-up included, on Linux)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _STARTED


_STARTED = time.perf_counter()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m seqserve.trainer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["train", "export"], help="what to do (see above)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="training seed")
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        help=f"models to handle (default: all): {', '.join(catalog.BY_NAME)}",
    )
    parser.add_argument("--force", action="store_true", help="refit / re-export regardless")
    parser.add_argument("--models", type=Path, default=Path("models"), help="model repository")
    parser.add_argument(
        "--cache", type=Path, default=Path("build/trainer"), help="trained-weights cache"
    )
    return parser


def _exported(models: Path, model: catalog.Model, fp: str) -> bool:
    """The newest version was exported from these weights, with every graph export writes."""
    found = repository.latest(models, model.name)
    if found is None or found[1].training.fingerprint != fp:
        return False
    return {g.role for g in found[1].graphs} == catalog.exported_roles(model)


def train(args: argparse.Namespace, selected: list[catalog.Model]) -> int:
    todo = []
    for model in selected:
        fp = fingerprint(model, args.seed)
        if not args.force and (
            cache.is_cached(args.cache, model, fp) or _exported(args.models, model, fp)
        ):
            print(f"  {model.name}: up to date ({fp})")
        else:
            todo.append((model, fp))
    if not todo:
        return 0
    from seqserve.trainer import training

    for model, fp in todo:
        print(f"training {model.name} ({fp})", flush=True)
        net, record = training.fit(model, args.seed, fp)
        training.save(args.cache, model, net, record)
    names = [m.name for m, _ in todo]
    cache.record_timing(args.cache, args.models, "train", _wall_seconds(), names)
    return 0


def export(args: argparse.Namespace, selected: list[catalog.Model]) -> int:
    todo = []
    for model in selected:
        fp = fingerprint(model, args.seed)
        if not args.force and _exported(args.models, model, fp):
            print(f"  {model.name}: up to date ({fp})")
        else:
            todo.append((model, fp))
    if not todo:
        return 0
    from seqserve.trainer import export as exporter
    from seqserve.trainer import gates, parity, report, training

    failures = []
    for model, fp in todo:
        print(f"exporting {model.name} ({fp})", flush=True)
        if cache.is_cached(args.cache, model, fp):
            net, record = training.load(args.cache, model, fp)
        else:
            net, record = training.fit(model, args.seed, fp)
            training.save(args.cache, model, net, record)
        try:
            exporter.export(model, net, record, args.models)
        except (gates.GateError, parity.ParityError) as exc:
            failures.append(str(exc))
            print(f"  FAILED {exc}", file=sys.stderr, flush=True)
    names = [m.name for m, _ in todo]
    cache.record_timing(args.cache, args.models, "export", _wall_seconds(), names)
    report.write(args.models, args.cache)
    if failures:
        print("export failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        selected = catalog.select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    return train(args, selected) if args.command == "train" else export(args, selected)


if __name__ == "__main__":
    sys.exit(main())
