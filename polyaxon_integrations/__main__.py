"""``polyaxon-integrations`` / ``python -m polyaxon_integrations``: the command line.

polyaxon-integrations status               # the local runs: project, status, what the server still lacks
polyaxon-integrations sync                 # every run under POLYAXON_OFFLINE_ROOT the server lacks something of
polyaxon-integrations sync PATH [PATH...]  # run folders, or roots holding runs/
polyaxon-integrations sync --all           # every run under the root, pending or not
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import __version__

__all__ = ["main"]


def _bar(total: int, unit: str) -> Any:
    """A tqdm bar when tqdm is installed (every framework we serve brings it), else None."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    big = unit == "B" and total >= 1 << 20
    return tqdm(total=total, unit=unit, unit_scale=unit == "B", file=sys.stderr, disable=not big and total < 2)


def sync(args: argparse.Namespace) -> int:
    from .core.client import PolyaxonClient
    from .core.exceptions import PolyaxonError
    from .core.sync import LocalRun, find_runs, push

    try:
        folders = list(find_runs(args.paths, everything=args.all, root=args.root))
        api = PolyaxonClient()
    except PolyaxonError as exc:
        print(f"sync: {exc}", file=sys.stderr)
        return 2
    if not folders:
        print("sync: nothing to push (no pending runs).")
        return 0
    total = 0
    for folder in folders:
        try:
            total += sum(size for size, _ in LocalRun.read(folder).plan(not args.no_artifacts).files.values())
        except (PolyaxonError, OSError, ValueError):
            pass
    bar = _bar(total, "B") if total >= 1 << 20 else _bar(len(folders), "run")
    progress = bar.update if bar is not None and total >= 1 << 20 else None
    failed = 0
    for folder, name, error in push(folders, api, args.project, not args.no_artifacts, progress):
        if error is not None:
            failed += 1
            print(f"sync: {folder.path}: FAILED: {error}", file=sys.stderr)
        else:
            owner, project, uuid = str(name).split("/")
            print(f"synced {folder.path} -> {api.config.host}/ui/{owner}/{project}/runs/{uuid}")
        if bar is not None and progress is None:
            bar.update(1)
    if bar is not None:
        bar.close()
    print(f"sync: {len(folders) - failed} pushed, {failed} failed")
    return 1 if failed else 0


def status(args: argparse.Namespace) -> int:
    """One line per local run: uuid, project, state, what the server lacks; then the command that sends it."""
    from .core.exceptions import PolyaxonError
    from .core.folder import RUN_FILE, RunFolder, offline_root
    from .core.sync import LocalRun

    root = args.root or offline_root()
    rows = []
    pending = 0
    for run_file in sorted((root / "runs").glob(f"*/{RUN_FILE}")):
        folder = RunFolder(run_file.parent)
        try:
            local = LocalRun.read(folder)
            state = local.state
            plan = local.plan()
            lacks = plan.describe() if plan else "-"
            if state == "crashed":
                lacks += "; its process ended without ending it: sync ends it failed"
            refused = sorted(local.record.rejected)
            if refused:
                lacks += f"; refused by the server: {', '.join(refused)}"
            project = f"{local.run.get('owner')}/{local.run.get('project')}"
            pending += bool(plan) or state == "crashed"
        except PolyaxonError as exc:
            state, lacks, project = "unreadable", str(exc), "?"
        rows.append((folder.path.name, project, state, lacks))
    if not rows:
        print(f"status: no runs under {root}.")
        return 0
    widths = [max(len(r[i]) for r in [("RUN", "PROJECT", "STATE", ""), *rows]) for i in range(3)]
    print(f"{'RUN':<{widths[0]}}  {'PROJECT':<{widths[1]}}  {'STATE':<{widths[2]}}  NOT ON THE SERVER")
    for uuid, project, state, lacks in rows:
        print(f"{uuid:<{widths[0]}}  {project:<{widths[1]}}  {state:<{widths[2]}}  {lacks}")
    if pending:
        where = "" if args.root is None else f" --root {root}"
        print(f"\n{pending} run(s) not fully on the server: send them with `polyaxon-integrations sync{where}`.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="polyaxon-integrations", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command")
    push = sub.add_parser("sync", help="push offline runs and runs left unsynced after an outage")
    push.add_argument("paths", nargs="*", type=Path, help="run folders, or offline roots holding runs/")
    push.add_argument("--all", action="store_true", help="every run under the root, even those already synced")
    push.add_argument("--root", type=Path, help="offline root (default: POLYAXON_OFFLINE_ROOT or /tmp/plx/offline)")
    push.add_argument("--project", help="push into this project (owner/name) instead of the one the run names")
    push.add_argument("--no-artifacts", action="store_true", help="push the run and lineage, not the files")
    show = sub.add_parser("status", help="list the local runs and what the server does not have yet")
    show.add_argument("--root", type=Path, help="offline root (default: POLYAXON_OFFLINE_ROOT or /tmp/plx/offline)")
    args = parser.parse_args(argv)
    if args.command == "sync":
        return sync(args)
    if args.command == "status":
        return status(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
