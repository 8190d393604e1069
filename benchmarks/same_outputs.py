"""Do two commits give the same outputs? A behaviour check for refactors (issue 13).

    .venv/bin/python benchmarks/same_outputs.py --base REV [--head REV]

Runs the same user commands at both commits (git worktrees, this venv, each tree first on
``PYTHONPATH``) and compares what they produce, exactly:

- ``sr eval`` with the official weights on Set5 ×2/×3/×4 and Set14 ×4 (mean and per-image PSNR);
- ``sr upscale`` of one picture at ×3, ×2.5 and to an exact size (the decoded pixels);
- ``curator sample`` (ingest, flags, embedding, map), then ``curator accept --all-pending`` and
  ``curator export``: every image's name, status and flags (with their values), its map
  coordinates, and the exported files with their split.

Prints one line per output (same / DIFFERENT) and exits 1 if any differs. It compares commits,
not the working tree: commit first. The sample workspace is small, so its map takes the exact
neighbour search (``curator.knn.EXACT_MAX``); the converted official weights come from the one
user cache both commits share.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr.benchmark_sets import benchmarks_root

ROOT = Path(__file__).resolve().parents[1]
EVALS = (("Set5", 2), ("Set5", 3), ("Set5", 4), ("Set14", 4))
UPSCALES = (("--scale", "3"), ("--scale", "2.5"), ("--size", "301x0"))


def worktree(rev: str, where: Path, repo: Path = ROOT) -> Path:
    """A detached checkout of ``repo``'s ``rev`` under ``where``."""
    tree = where / rev.replace("/", "_")
    subprocess.run(["git", "-C", repo, "worktree", "add", "-q", "--detach", tree, rev], check=True)
    return tree


def command(tree: Path, module: str, *argv: str | Path) -> str:
    """``python -m module argv`` with ``tree``'s code; its stdout, or exit with its error."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    argv_s = [sys.executable, "-m", module, *map(str, argv)]
    done = subprocess.run(argv_s, capture_output=True, text=True, cwd=tree, env=env)
    if done.returncode != 0:
        sys.exit(f"failed in {tree}: {' '.join(argv_s)}\n{done.stderr[-2000:]}")
    return done.stdout


def eval_outputs(tree: Path, bench: Path) -> dict[str, object]:
    """Mean and per-image PSNR of the official weights per (set, scale)."""
    out = {}
    for name, scale in EVALS:
        row = json.loads(command(tree, "sr.cli", "eval", bench / name, "--scale", scale, "--json"))
        out[f"sr eval {name} x{scale}"] = (row["psnr"], row["per_image"])
    return out


def pixels_digest(path: Path) -> str:
    """SHA-256 of the decoded pixels and their shape (file metadata may differ)."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return hashlib.sha256(repr(arr.shape).encode() + arr.tobytes()).hexdigest()


def upscale_outputs(tree: Path, picture: Path, work: Path) -> dict[str, object]:
    """Pixels of ``sr upscale`` at each of ``UPSCALES``."""
    out = {}
    for how, value in UPSCALES:
        target = work / f"up-{how[2:]}-{value}.png"
        command(tree, "sr.cli", "upscale", picture, "-o", target, how, value)
        out[f"sr upscale {how} {value}"] = pixels_digest(target)
    return out


def curator_outputs(tree: Path, work: Path) -> dict[str, object]:
    """Catalog rows, flags, map coordinates and the export of the sample workspace."""
    ws, export = work / "ws", work / "export"
    command(tree, "curator.cli", "sample", ws, "--encoder", "efficientnet-lite0")
    command(tree, "curator.cli", "accept", ws, "--all-pending")
    command(tree, "curator.cli", "export", ws, export)
    # each commit's own CLI lists its catalog: where a status is stored may differ between them
    listed = json.loads(command(tree, "curator.cli", "list", ws, "--json"))
    images = sorted(
        ((r["id"], r["content_hash"], r["original_name"], r["status"]) for r in listed),
        key=lambda row: row[1],
    )
    by_id = {row[0]: row[1] for row in images}
    with sqlite3.connect(ws / "catalog.sqlite") as db:
        flags = sorted(
            (by_id[i], f, None if v is None else round(v, 9))
            for i, f, v in db.execute("SELECT image_id, flag, value FROM flags")
        )
        coords = sorted(
            (by_id[i], round(x, 6), round(y, 6))
            for i, x, y in db.execute("SELECT item_id, x, y FROM map_coords WHERE kind = 'image'")
        )
    files = sorted(
        (p.relative_to(export).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
        for p in export.rglob("*")
        if p.is_file() and p.suffix != ".json" and p.name != "README.md"
    )
    return {
        "catalog images (hash, name, status)": [row[1:] for row in images],
        "catalog flags and values": flags,
        "map coordinates": coords,
        "export files and split": files,
    }


def outputs(tree: Path, bench: Path, picture: Path, work: Path) -> dict[str, object]:
    """Everything compared, for one tree."""
    work.mkdir(parents=True)
    return {
        **eval_outputs(tree, bench),
        **upscale_outputs(tree, picture, work),
        **curator_outputs(tree, work),
    }


def first_difference(mine: object, other: object) -> str:
    """The first item of ``mine`` that ``other`` lacks (the value itself when not a list)."""
    if isinstance(mine, list) and isinstance(other, list):
        missing = [item for item in mine if item not in other]
        return f"{len(mine)} items; first not in the other: {missing[:1]}"
    return repr(mine)[:300]


def main() -> None:
    """Run both commits, compare, print one line per output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit before the change")
    parser.add_argument("--head", default="HEAD")
    args = parser.parse_args()
    revs = [subprocess.check_output(["git", "-C", ROOT, "rev-parse", r], text=True).strip()
            for r in (args.base, args.head)]  # fmt: skip
    if revs[0] == revs[1]:
        sys.exit(f"error: --base {args.base} and --head {args.head} are the same commit")
    bench = benchmarks_root()
    with tempfile.TemporaryDirectory(prefix="same-outputs-") as tmp:
        where = Path(tmp)
        picture = where / "picture.png"
        from sr.training.skimage_pictures import picture_rgb

        Image.fromarray(picture_rgb("astronaut")[100:196, 180:300]).save(picture)
        trees = {rev: worktree(rev, where / "trees") for rev in (args.base, args.head)}
        try:
            results = {}
            for rev, tree in trees.items():  # one work path: outputs that name files match
                results[rev] = outputs(tree, bench, picture, where / "out")
                shutil.rmtree(where / "out")
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree])
    base, head = results.values()
    differ = [key for key in base if base[key] != head[key]]
    for key in base:
        print(f"{'DIFFERENT' if key in differ else 'same':9}  {key}")
        if key in differ:
            print(f"           {args.base}: {first_difference(base[key], head[key])}")
            print(f"           {args.head}: {first_difference(head[key], base[key])}")
    print(f"{len(base) - len(differ)} of {len(base)} outputs the same ({args.base} vs {args.head})")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
