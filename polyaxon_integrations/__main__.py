"""``polyaxon-integrations`` / ``python -m polyaxon_integrations``: the command line.

polyaxon-integrations sync                 # every pending run under POLYAXON_OFFLINE_ROOT
polyaxon-integrations sync PATH [PATH...]  # run folders, or roots holding runs/
polyaxon-integrations sync --all           # every run under the root, pending or not
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__

__all__ = ["main"]


def _progress(total: int) -> object:
    """A tqdm bar when tqdm is installed (every framework we serve brings it), else None."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="run", file=sys.stderr, disable=total < 2)


def sync(args: argparse.Namespace) -> int:
    from .core.client import PolyaxonClient
    from .core.exceptions import PolyaxonError
    from .core.sync import find_runs, push
    from .core.ui import mask_credentials, run_url

    try:
        folders = list(find_runs(args.paths, everything=args.all, root=args.root))
        api = PolyaxonClient()
    except PolyaxonError as exc:
        print(f"sync: {mask_credentials(str(exc))}", file=sys.stderr)
        return 2
    if not folders:
        print("sync: nothing to push (no pending runs).")
        return 0
    bar = _progress(len(folders))
    failed = 0
    for folder, name, error in push(folders, api, project=args.project, artifacts=not args.no_artifacts):
        if error is not None:
            failed += 1
            print(f"sync: {folder.path}: FAILED: {mask_credentials(str(error))}", file=sys.stderr)
        else:
            owner, project, uuid = str(name).split("/")
            print(f"synced {folder.path} -> {run_url(api.config.host or '', owner, project, uuid)}")
        if bar is not None:
            bar.update(1)  # type: ignore[attr-defined]
    if bar is not None:
        bar.close()  # type: ignore[attr-defined]
    print(f"sync: {len(folders) - failed} pushed, {failed} failed")
    return 1 if failed else 0


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
    args = parser.parse_args(argv)
    if args.command == "sync":
        return sync(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
