"""The ``curator`` command line: one subcommand per step of the curation loop."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from curator.catalog import SORT_NAMES
from curator.errors import CuratorError
from curator.scores import SCORES
from sr.options import float_option, int_option, non_negative_int, positive_int

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
    for name in report.skipped:
        print(f"note: {name}: skipped (not an image file type)", file=sys.stderr)
    print(
        f"added {len(report.added)}, duplicates {len(report.duplicates)}, "
        f"refused {len(report.errors)}, skipped {len(report.skipped)}"
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


def score_bound(text: str) -> tuple[str, float]:
    """argparse type of ``--min``/``--max``: ``SCORE=VALUE`` with a known score, a finite value."""
    name, sep, value = text.partition("=")
    if not sep or name.strip() not in SCORES:
        raise argparse.ArgumentTypeError(
            f"expected SCORE=VALUE with SCORE one of {', '.join(SCORES)}, got {text!r}"
        )
    return name.strip(), float_option()(value)


def cmd_scores(args: argparse.Namespace) -> int:
    from curator.progress import progress_bar
    from curator.scores import count_without_scores, fill_missing_scores, score_summary

    ws = _ws(args)
    filled = 0
    if ws.readonly:
        missing = count_without_scores(ws)
        if missing:
            print(f"{missing} image(s) have no scores; a read-only workspace cannot store them")
    else:
        with progress_bar("Measuring") as update:
            filled = fill_missing_scores(
                ws, progress=update, warn=lambda line: print(line, file=sys.stderr)
            )
    summary = score_summary(ws)
    if args.json:
        print(json.dumps({"filled": filled, "scores": summary}))
        return 0
    if filled:
        print(f"measured {filled} image(s) that had no scores")
    print(f"{'score':<12} {'images':>7} {'min':>9} {'p10':>9} {'median':>9} {'p90':>9} {'max':>9}")
    for name, row in summary.items():
        values = " ".join(f"{row[k]:>9.3f}" for k in ("min", "p10", "median", "p90", "max"))
        print(f"{name:<12} {row['images']:>7} {values}")
    for name, meaning in SCORES.items():
        print(f"  {name}: {meaning}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from curator.catalog import list_images

    ws = _ws(args)
    records = list_images(
        ws,
        status=args.status,
        source=args.source,
        round=args.round,
        flag=args.flag,
        no_flags=args.no_flags,
        min_score=dict(args.min or []),
        max_score=dict(args.max or []),
        sort=args.sort,
        limit=args.limit,
        offset=args.offset,
    )
    if args.json:
        from curator.scores import scores_of

        scores = scores_of(ws, [r.id for r in records])
        print(json.dumps([{**r.as_dict(), "scores": scores[r.id]} for r in records]))
        return 0
    for r in records:
        flags = ",".join(r.flags) or "-"
        print(
            f"{r.id:>6}  {r.status:<8} {r.source:<9} r{r.round:<3} {r.width}x{r.height:<6} "
            f"flags={flags}  {r.original_name}"
        )
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    from curator.curation import accept, accept_all_pending, accept_clean

    ws = _ws(args)
    if sum(map(bool, (args.all_pending, args.clean, args.ids))) != 1:
        raise CuratorError("give image ids, --all-pending or --clean (one of them)")
    if args.all_pending:
        n = accept_all_pending(ws)
    elif args.clean:
        n = accept_clean(ws)
    else:
        n = accept(ws, args.ids, reason=args.reason)
    print(f"accepted {n} image(s)")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    from curator.curation import reject, reject_flagged

    if bool(args.ids) == bool(args.flagged):
        raise CuratorError("give image ids or --flagged (one of them)")
    if args.flag and not args.flagged:
        raise CuratorError("--flag goes with --flagged")
    if args.flagged:
        n = reject_flagged(_ws(args), args.flag)
    else:
        n = reject(_ws(args), args.ids, reason=args.reason)
    print(f"rejected {n} image(s)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from curator.events import describe_event, history

    events = history(_ws(args), limit=args.limit)
    if args.json:
        print(json.dumps([asdict(e) for e in events]))
        return 0
    for event in events:
        print(f"{event.id:>6}  {event.time}  {event.action:<16} {describe_event(event)}")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from curator.curation import undo_last

    message = undo_last(_ws(args))
    print(message or "nothing to undo")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from curator.embeddings import embed_images, embed_prompts, switch_encoder
    from curator.progress import progress_bar

    ws = _ws(args)
    if args.encoder and args.encoder != ws.config.embedding.encoder:
        ws = switch_encoder(ws, args.encoder)
        print(f"encoder is now {args.encoder}; every image is embedded again, the map refits")
    with progress_bar("embed") as progress:
        n = embed_images(ws, progress=progress, ray=_ray(args))
    texts = embed_prompts(ws)
    print(
        f"embedded {n} new image(s), {texts} new prompt text(s) with {ws.config.embedding.encoder}"
    )
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from curator.shared_map import refresh_map

    ws = _ws(args)
    if args.png:
        from curator.map_plot import check_png_target

        check_png_target(ws, args.png)  # before any work: a refused target changes nothing
    if ws.readonly and args.png and not args.refit:
        print(f"note: {ws.root}: read-only; drawing the stored map as it is", file=sys.stderr)
    else:
        report = refresh_map(ws, refit=args.refit).map
        what = "fitted" if report.fitted else "extended"
        print(
            f"map {what} (fit {report.fit_id}): {report.images_placed} image(s) placed, "
            f"{report.prompts_placed} prompt(s), {report.total_images} image(s) in all"
        )
    if args.png:
        from curator.map_plot import save_map_png

        png = save_map_png(ws, args.png, color_by=args.color_by, thumbnails=args.thumbnails)
        print(f"wrote {png}")
    return 0


def _ray_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--ray",
        action="store_true",
        help=f"{what} ($RAY_ADDRESS, or a local Ray); the workspace's store must be on storage "
        "every node mounts at the same path (docs/curator.md)",
    )
    parser.add_argument("--ray-address", metavar="ADDRESS", help="the Ray cluster (implies --ray)")


def _ray(args: argparse.Namespace) -> str | bool:
    """What ``embed_images``/``generate_round`` take as ``ray``: an address, True or False."""
    return args.ray_address or args.ray


def cmd_generate(args: argparse.Namespace) -> int:
    from curator.generation import generate_round, next_round, settings_from_config
    from curator.progress import progress_bar

    ws = _ws(args)
    round_ = args.round or next_round(ws)
    # said first: an interrupted round is finished by the same command with this --round
    print(f"round {round_} (if interrupted, add --round {round_} to finish it)", file=sys.stderr)
    settings = settings_from_config(
        ws, model=args.model, steps=args.steps, guidance=args.guidance, strength=args.strength,
        width=args.width, height=args.height, seed=args.seed, device=args.device,
    )  # fmt: skip
    with progress_bar(f"generate ({args.mode})") as progress:
        ids = generate_round(
            ws, prompt_ids=args.prompt, mode=args.mode, per_prompt=args.per_prompt,
            parents=args.parents, settings=settings, progress=progress, round=round_,
            ray=_ray(args),
        )  # fmt: skip
    print(f"generated {len(ids)} image(s): {' '.join(map(str, ids))}")
    return 0


def cmd_prompt_add(args: argparse.Namespace) -> int:
    from curator.prompts import add_prompt

    prompt_id = add_prompt(
        _ws(args), args.text, negative=args.negative, parent_id=args.parent, note=args.note
    )
    print(f"prompt #{prompt_id}")
    return 0


def cmd_prompt_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from curator.prompts import list_prompts, prompt_stats

    ws = _ws(args)
    prompts = list_prompts(ws)
    if args.json:
        print(json.dumps([asdict(p) for p in prompts]))
        return 0
    for p in prompts:
        s = prompt_stats(ws, p.id)
        parent = f" (from #{p.parent_id})" if p.parent_id else ""
        negative = f"  [negative: {p.negative}]" if p.negative else ""
        print(
            f"#{p.id}{parent}  {s.total} img, {s.accepted} acc, {s.rejected} rej  "
            f"{p.text}{negative}"
        )
    return 0


def cmd_refine(args: argparse.Namespace) -> int:
    from curator.refine import apply_refinement, suggest_refinement

    ws = _ws(args)
    s = suggest_refinement(ws, args.prompt_id)
    if args.json:
        print(json.dumps(s.__dict__))
    else:
        print(
            f"prompt #{s.prompt_id}: rejection rate {s.rejection_rate:.0%} "
            f"({s.rejected} rejected, {s.accepted} accepted)"
        )
        print(f"add to prompt:   {', '.join(s.positive_terms) or '-'}")
        print(f"add to negative: {', '.join(s.negative_terms) or '-'}")
        print(s.diff)
    if args.apply or args.text is not None or args.negative is not None:
        text = s.proposed_text if args.text is None else args.text
        negative = s.proposed_negative if args.negative is None else args.negative
        new = apply_refinement(ws, args.prompt_id, text=text, negative=negative)
        print(f"new version #{new} (parent #{args.prompt_id})")
    elif not args.json:
        print("accept with --apply, or edit with --text/--negative")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from curator.export import export_dataset

    report = export_dataset(
        _ws(args), args.out, val_fraction=args.val_fraction, seed=args.seed,
        overwrite=args.overwrite,
    )  # fmt: skip
    print(
        f"exported to {report.out}: {report.counts['train']} train, "
        f"{report.counts['validation']} validation"
    )
    if report.backup is not None:
        print(f"the previous {report.out} was moved to {report.backup}")
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    from curator.similar import similar_images

    found = similar_images(_ws(args), args.image_id, k=args.k)
    if args.json:
        print(json.dumps([{"id": n.id, "cosine": n.cosine} for n in found]))
        return 0
    for n in found:
        print(f"{n.id:>6}  cosine {n.cosine:.3f}")
    return 0


def cmd_duplicates(args: argparse.Namespace) -> int:
    from curator.curation import reject_each
    from curator.similar import near_duplicate_groups

    ws = _ws(args)
    groups = near_duplicate_groups(ws, min_cosine=args.min_cosine)
    for group in groups:
        print(f"#{group[0]} kept; near-duplicates: {' '.join(f'#{i}' for i in group[1:])}")
    extra = [i for group in groups for i in group[1:]]
    if args.reject and extra:
        reasons = {i: f"near-duplicate of #{group[0]}" for group in groups for i in group[1:]}
        reject_each(ws, reasons)  # one event: one undo restores them all
        print(f"rejected {len(extra)} image(s) (one undo restores them)")
    else:
        print(f"{len(groups)} group(s), {len(extra)} image(s) beyond the first of each")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from curator.catalog import summary
    from curator.map_plot import save_map_png
    from curator.progress import progress_bar
    from curator.sample import build_sample

    with progress_bar("sample") as progress:
        ws = build_sample(args.workspace, encoder=args.encoder, progress=progress)
    png = save_map_png(ws, ws.map_png, color_by="status", thumbnails=True)
    counts = summary(ws)
    print(
        f"sample workspace {ws.root}: {counts['total']} images "
        f"({', '.join(f'{k} {v}' for k, v in counts['by_status'].items())}), "
        f"encoder {ws.config.embedding.encoder}; map: {png}"
    )
    return 0


ENCODER_HELP = (
    "open_clip:MODEL:PRETRAINED or efficientnet-lite0 (default: CLIP when its weights are here "
    "or Hugging Face can be reached, else efficientnet-lite0)"
)


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
    p.add_argument("--encoder", help=ENCODER_HELP)

    p = command("ingest", cmd_ingest, "add image files/folders to the catalog")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--recursive", action="store_true")

    p = command("status", cmd_status, "counts by status, source, round and flag")
    p.add_argument("--json", action="store_true")

    p = command("list", cmd_list, "list images with their ids")
    p.add_argument("--status")
    p.add_argument("--source")
    p.add_argument("--round", type=non_negative_int)
    p.add_argument(
        "--flag", action="append", help="repeat for several: images with any of them match"
    )
    p.add_argument("--no-flags", action="store_true", help="only images without quality flags")
    for bound in ("min", "max"):
        p.add_argument(
            f"--{bound}", action="append", type=score_bound, metavar="SCORE=VALUE",
            help=f"{bound}imum of a quality score ({', '.join(SCORES)}; repeat for several; "
            "`curator scores WS` shows their ranges)",
        )  # fmt: skip
    p.add_argument("--sort", default="id", choices=list(SORT_NAMES))
    p.add_argument("--limit", type=positive_int, help="at most this many (a page)")
    p.add_argument("--offset", type=non_negative_int, default=0, help="skip this many first")
    p.add_argument("--json", action="store_true")

    p = command("scores", cmd_scores, "quality score ranges (measuring images that have none yet)")
    p.add_argument("--json", action="store_true")

    p = command("accept", cmd_accept, "accept images")
    p.add_argument("ids", nargs="*", type=positive_int)
    p.add_argument("--all-pending", action="store_true")
    p.add_argument("--clean", action="store_true", help="every pending image without flags")
    p.add_argument("--reason", default="")

    p = command("reject", cmd_reject, "reject images (files are kept)")
    p.add_argument("ids", nargs="*", type=positive_int)
    p.add_argument("--flagged", action="store_true", help="every pending image with a quality flag")
    p.add_argument("--flag", action="append", help="with --flagged: only these flags (repeat)")
    p.add_argument("--reason", default="")

    command("undo", cmd_undo, "revert the last accept/reject")

    p = command("history", cmd_history, "the newest changes (events), newest first")
    p.add_argument("--limit", type=positive_int, default=50)
    p.add_argument("--json", action="store_true")

    p = command("embed", cmd_embed, "embed new images (and prompt texts with CLIP)")
    p.add_argument(
        "--encoder",
        help="switch the workspace to this encoder first (open_clip:MODEL:PRETRAINED or "
        "efficientnet-lite0): every image is embedded again and the map refits",
    )
    _ray_option(p, "run the encoder on a Ray cluster")

    p = command("map", cmd_map, "fit or extend the shared map; optional PNG")
    p.add_argument("--refit", action="store_true", help="refit the map on every image")
    p.add_argument("--png", type=Path, help="also draw the map to this PNG")
    p.add_argument("--color-by", default="source", choices=["source", "round", "status"])
    p.add_argument("--thumbnails", action="store_true", help="draw small pictures at the points")

    p = command("generate", cmd_generate, "one diffusion round (txt2img or img2img)")
    p.add_argument(
        "--prompt", type=positive_int, nargs="+", required=True, help="prompt version ids"
    )
    p.add_argument("--mode", default="txt2img", choices=["txt2img", "img2img"])
    p.add_argument("--per-prompt", type=int_option(1, 10_000), default=1)
    p.add_argument(
        "--parents",
        type=positive_int,
        nargs="+",
        help="img2img sources (default: accepted originals)",
    )
    p.add_argument("--model", help="diffusers model id (HF cache) or local folder")
    p.add_argument("--steps", type=int_option(1, 10_000))
    p.add_argument("--guidance", type=float_option(0, 100))
    p.add_argument("--strength", type=float_option(0, 1, above=True))
    p.add_argument("--width", type=int_option(8, 8192))
    p.add_argument("--height", type=int_option(8, 8192))
    p.add_argument("--seed", type=non_negative_int)
    p.add_argument("--device")
    p.add_argument(
        "--round",
        type=positive_int,
        help="continue this round: the images it already has (same prompt, parent and seed) "
        "are not made again, so the same command resumes an interrupted round",
    )
    _ray_option(p, "run the pipeline on a Ray cluster")

    prompt = sub.add_parser("prompt", help="add or list prompt versions")
    prompt_sub = prompt.add_subparsers(dest="prompt_command", required=True)
    p = prompt_sub.add_parser("add", help="add a prompt version")
    p.add_argument("workspace", type=Path)
    p.add_argument("text")
    p.add_argument("--negative", default="")
    p.add_argument("--parent", type=positive_int)
    p.add_argument("--note", default="")
    p.set_defaults(handler=cmd_prompt_add)
    p = prompt_sub.add_parser("list", help="list prompt versions with their counts")
    p.add_argument("workspace", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_prompt_list)

    p = command("refine", cmd_refine, "suggest (and apply) a refined prompt version")
    p.add_argument("prompt_id", type=positive_int)
    p.add_argument("--apply", action="store_true", help="store the proposal as a new version")
    p.add_argument("--text", help="store this edited text as the new version")
    p.add_argument("--negative", help="store this edited negative prompt as the new version")
    p.add_argument("--json", action="store_true")

    p = command("export", cmd_export, "write accepted images as an imagefolder dataset")
    p.add_argument("out", type=Path)
    p.add_argument("--val-fraction", type=float_option(0, 1), default=0.1)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--overwrite", action="store_true")

    p = command("similar", cmd_similar, "the images most similar to one (by embedding)")
    p.add_argument("image_id", type=positive_int)
    p.add_argument("-k", type=int_option(1, 1000), default=12, help="how many")
    p.add_argument("--json", action="store_true")

    p = command("duplicates", cmd_duplicates, "near-duplicate groups by embedding similarity")
    p.add_argument("--min-cosine", type=float_option(0, 1), default=0.975)
    p.add_argument(
        "--reject",
        action="store_true",
        help="reject all but the first of each group (the most pixels, then the oldest)",
    )

    p = command("sample", cmd_sample, "build an offline sample workspace (scikit-image pictures)")
    p.add_argument("--encoder", help=ENCODER_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``curator`` console script (exit codes: ``sr.cli_boundary``)."""
    from sr.cli_boundary import run_command

    args = build_parser().parse_args(argv)
    return run_command(args.handler, args, user_errors=(CuratorError,))


if __name__ == "__main__":
    sys.exit(main())
