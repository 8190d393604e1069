"""The ``curator`` command line: one subcommand per step of the curation loop."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from curator.errors import CuratorError

Handler = Callable[[argparse.Namespace], int]


def _ws(args: argparse.Namespace):
    from curator.workspace import open_workspace

    return open_workspace(args.workspace)


def cmd_init(args: argparse.Namespace) -> int:
    from curator.workspace import init_workspace

    ws = init_workspace(args.workspace, encoder=args.encoder)
    print(f"workspace ready: {ws.root} (encoder {ws.config.embedding.encoder})")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from curator.ingest import ingest_paths
    from curator.progress import progress_bar

    ws = _ws(args)
    with progress_bar("ingest") as progress:
        report = ingest_paths(ws, args.paths, recursive=args.recursive, progress=progress)
    for name, reason in report.errors:
        print(f"error: {name}: {reason}", file=sys.stderr)
    for name, note in report.notes:
        print(f"note: {name}: {note}", file=sys.stderr)
    print(
        f"added {len(report.added)}, duplicates {len(report.duplicates)}, "
        f"refused {len(report.errors)}"
    )
    return 1 if report.errors else 0


def cmd_status(args: argparse.Namespace) -> int:
    from curator.catalog import summary

    counts = summary(_ws(args))
    if args.json:
        print(json.dumps(counts))
        return 0
    print(f"images: {counts['total']}")
    for key in ("by_status", "by_source", "by_round", "by_flag"):
        parts = ", ".join(f"{k}: {v}" for k, v in counts[key].items()) or "-"
        print(f"  {key[3:]:<7} {parts}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from curator.catalog import list_images

    records = list_images(
        _ws(args), status=args.status, source=args.source, round=args.round, flag=args.flag
    )
    if args.json:
        print(json.dumps([r.as_dict() for r in records]))
        return 0
    for r in records:
        flags = ",".join(r.flags) or "-"
        print(
            f"{r.id:>6}  {r.status:<8} {r.source:<9} r{r.round:<3} {r.width}x{r.height:<6} "
            f"flags={flags}  {r.original_name}"
        )
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    from curator.curation import accept, accept_all_pending

    ws = _ws(args)
    if args.all_pending:
        n = accept_all_pending(ws)
    elif args.ids:
        n = accept(ws, args.ids, reason=args.reason)
    else:
        raise CuratorError("give image ids or --all-pending")
    print(f"accepted {n} image(s)")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    from curator.curation import reject

    n = reject(_ws(args), args.ids, reason=args.reason)
    print(f"rejected {n} image(s)")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from curator.curation import undo_last

    message = undo_last(_ws(args))
    print(message or "nothing to undo")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="curator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("workspace", type=Path, help="workspace folder")
        p.set_defaults(handler=handler)
        return p

    p = command("init", cmd_init, "create a workspace")
    p.add_argument("--encoder", help="open_clip:MODEL:PRETRAINED or efficientnet-lite0")

    p = command("ingest", cmd_ingest, "add image files/folders to the catalog")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--recursive", action="store_true")

    p = command("status", cmd_status, "counts by status, source, round and flag")
    p.add_argument("--json", action="store_true")

    p = command("list", cmd_list, "list images with their ids")
    p.add_argument("--status")
    p.add_argument("--source")
    p.add_argument("--round", type=int)
    p.add_argument("--flag")
    p.add_argument("--json", action="store_true")

    p = command("accept", cmd_accept, "accept images")
    p.add_argument("ids", nargs="*", type=int)
    p.add_argument("--all-pending", action="store_true")
    p.add_argument("--reason", default="")

    p = command("reject", cmd_reject, "reject images (files are kept)")
    p.add_argument("ids", nargs="+", type=int)
    p.add_argument("--reason", default="")

    command("undo", cmd_undo, "revert the last accept/reject")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``curator`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CuratorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished items are saved", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
