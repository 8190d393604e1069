"""Does curating with this tool and fine-tuning give a better upscaler for a domain? One command.

    make domain-data   # once: Debian's openclipart-svg and librsvg2-bin
    .venv/bin/python benchmarks/domain_finetune.py [--work DIR] [--steps N]

1. Renders clip art (datasets/openclipart.md): held-out test and validation renders, and a
   dirty pool (≈30 % photos, fake-HR, blurred, JPEG, near-duplicates, too small; labels kept
   outside the pool).
2. Curates the pool with the project's tools as a user would: ingest flags (`upsampled`,
   `blurry`, `too_small`, `lossy_jpeg`, JPEG blocking on JPEG files), embedding near-duplicates
   (`curator duplicates --reject`), and a review of the least typical images (lowest cosine to
   the set's centre, the 15 % a user would page through): the reviewer's eye is simulated by the
   label of *those* images only. Prints precision/recall against the labels.
3. Trains two models with the same recipe, seed and steps (`configs/finetune-domain.yaml`):
   on the dirty pool and on the curated export; validation is the same held-out renders.
   ``--seeds 0 1 2`` trains both once per training seed (same pools and curation), so the
   spread between runs can be told from the difference between the pools.
4. Prints Y-PSNR of official / dirty / curated (the first seed) on the held-out clip art at
   ×2/×3/×4/×6 and on Set5/Set14 ×4; curated − dirty at ×4 per seed with its standard error over
   the test images; with several seeds, every ×4 column's mean and range over them. Writes
   ``results.json`` into the work folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.clipart_data import eligible_svgs, render_split, require_tools, split_by_hash
from benchmarks.dirty_pool import build_pool, precision_recall, read_labels
from sr.benchmark_sets import benchmarks_root, hr_files
from sr.export_layout import METADATA, TRAIN, VALIDATION, metadata_path
from sr.run_layout import best_checkpoint

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SPLITS = {"test": 160, "val": 40, "pool": 1200}  # SVG candidates per split (hash order)
REJECT_FLAGS = {"upsampled", "blurry", "too_small", "lossy_jpeg"}
REVIEW_SHARE = 0.15  # least typical images a user pages through and judges by eye
SCALES = (2, 3, 4, 6)


def run(*argv: str | Path, quiet: bool = True) -> str:
    """Run a project command (as a user would); its stdout, or exit with its error."""
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, argv))}\n{done.stderr[-3000:]}")
    if not quiet:
        print(done.stdout.strip())
    return done.stdout


def prepare(work: Path, n_test: int, n_val: int, n_clean: int, seed: int) -> dict[str, list]:
    """Render the splits and build the dirty pool (cached in ``work``)."""
    splits = split_by_hash(eligible_svgs(), SPLITS)
    test = render_split(splits["test"], work / "test-renders", n_test)
    val = render_split(splits["val"], work / "val", n_val)
    renders = render_split(splits["pool"], work / "renders", n_clean + n_clean // 2)
    clean, spare = renders[:n_clean], renders[n_clean:]
    if not (work / "labels.csv").is_file():
        build_pool(clean, spare, work / "pool", work / "labels.csv", seed=seed)
    return {"test": test, "val": val}


def curate(work: Path) -> tuple[Path, dict[str, float]]:
    """Curate the pool in a workspace; export the accepted images; score against the labels."""
    from curator.catalog import list_images
    from curator.curation import accept_all_pending, reject
    from curator.similar import centroid_cosine
    from curator.workspace import open_workspace

    ws_dir, export = work / "ws", work / "export-curated"
    labels = read_labels(work / "labels.csv")
    if not ws_dir.exists():
        run(BIN / "curator", "init", ws_dir, "--encoder", "efficientnet-lite0")
        run(BIN / "curator", "ingest", ws_dir, work / "pool")
        run(BIN / "curator", "embed", ws_dir)
        ws = open_workspace(ws_dir)
        flagged = [
            r.id
            for r in list_images(ws)
            if REJECT_FLAGS & set(r.flags) or ("jpeg_blocking" in r.flags and r.format == "JPEG")
        ]
        reject(ws, flagged, reason="quality flag")
        run(BIN / "curator", "duplicates", ws_dir, "--reject")
        pending = {r.id: r for r in list_images(ws, status="pending")}
        typical = centroid_cosine(ws, list(pending))
        ranked = sorted(pending, key=lambda i: typical[i])
        reviewed = ranked[: round(REVIEW_SHARE * len(labels))]
        # the reviewer sees these thumbnails; the label stands in for their eye
        off_domain = [i for i in reviewed if labels[Path(pending[i].original_name).name] == "photo"]
        reject(ws, off_domain, reason="off-domain (review of the least typical)")
        accept_all_pending(ws)
        run(BIN / "curator", "export", ws_dir, export, "--val-fraction", "0")
    ws = open_workspace(ws_dir)
    removed = [Path(r.original_name).name for r in list_images(ws, status="rejected")]
    skipped = set(labels) - {Path(r.original_name).name for r in list_images(ws)}
    return export, precision_recall(labels, [*removed, *skipped])  # exact duplicates: skipped


def training_folder(folder: Path, train: list[Path], val: list[Path]) -> Path:
    """An export-layout folder: ``train/`` and ``validation/`` with ``metadata.jsonl``."""
    for split, files in ((TRAIN, train), (VALIDATION, val)):
        (folder / split).mkdir(parents=True, exist_ok=True)
        rows = []
        for path in files:
            target = folder / split / path.name
            if not target.exists():
                target.write_bytes(path.read_bytes())
            rows.append(json.dumps({"file_name": path.name}))
        metadata_path(folder, split).write_text("\n".join(rows) + "\n")
    return folder


def train(run_dir: Path, data: Path, config: Path, steps: int | None, seed: int) -> float:
    """``sr train`` (skipped if the run finished before); returns the wall time in minutes."""
    if best_checkpoint(run_dir).is_file():
        return float("nan")
    start = time.monotonic()
    extra = ["--max-steps", str(steps)] if steps else []
    argv = ["train", "--data", data, "--out", run_dir, "--config", config, "--seed", str(seed)]
    run(BIN / "sr", *argv, *extra, "--quiet")
    return (time.monotonic() - start) / 60


def evaluate(models: dict[str, str | Path], sets: list[Path], scales: list[int]) -> dict:
    """Rows of ``sr eval --json`` per model, set and scale, from one call (models load once)."""
    specs = [str(weights) for weights in models.values()]
    argv = ["eval", *sets, "--scale", *map(str, scales), "--weights", *specs, "--json"]
    names = {str(weights): name for name, weights in models.items()}
    table: dict[str, dict[tuple[str, float], dict]] = {name: {} for name in models}
    for line in run(BIN / "sr", *argv).splitlines():
        row = json.loads(line)
        table[names[row["weights"]]][(row["set"], row["scale"])] = row
    return table


def main() -> None:
    """Run the whole experiment and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "sr-domain-run")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "finetune-domain.yaml")
    parser.add_argument("--steps", type=int, help="override the recipe's max_steps")
    parser.add_argument("--test", type=int, default=16, help="held-out test renders")
    parser.add_argument("--val", type=int, default=20, help="validation renders")
    parser.add_argument("--clean", type=int, default=300, help="clean images in the pool")
    parser.add_argument("--seed", type=int, default=0, help="seed of the dirty pool")
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="training seeds (default: --seed); each trains both"
    )
    parser.add_argument(
        "--benchmarks", type=Path, default=None, help="benchmark sets (default: $SR_BENCHMARKS)"
    )
    parser.add_argument("--sets", default="Set5,Set14", help="generic sets at x4 ('' for none)")
    args = parser.parse_args()
    require_tools()
    bench_root = args.benchmarks or benchmarks_root()
    sets = [bench_root / name for name in args.sets.split(",") if name]
    for folder in sets:  # now, not after an hour of work
        try:
            hr_files(folder)
        except FileNotFoundError as exc:
            sys.exit(f"error: {exc} (give --benchmarks or set SR_BENCHMARKS)")
    start = time.monotonic()
    work = args.work
    data = prepare(work, args.test, args.val, args.clean, args.seed)
    export, quality = curate(work)
    print(
        f"curation: removed {quality['removed']:.0f} of {len(read_labels(work / 'labels.csv'))}"
        f" (dirty {quality['dirty']:.0f}): precision {quality['precision']:.3f}, "
        f"recall {quality['recall']:.3f}; per kind: "
        + ", ".join(f"{k[7:]} {v:.2f}" for k, v in quality.items() if k.startswith("recall_")),
        flush=True,
    )
    curated_train = sorted((export / TRAIN).glob("*.*"))
    curated_train = [p for p in curated_train if p.name != METADATA]
    pool = sorted((work / "pool").iterdir())
    folders = {
        "dirty": training_folder(work / "train-dirty", pool, data["val"]),
        "curated": training_folder(work / "train-curated", curated_train, data["val"]),
    }
    seeds = list(dict.fromkeys(args.seeds or [args.seed]))  # each seed once
    minutes, models = {}, {"official": "official"}
    for seed in seeds:
        for name, folder in folders.items():
            run_name = name if seed == args.seed else f"{name}-seed{seed}"
            models[run_name] = work / f"run-{run_name}"
            minutes[run_name] = train(models[run_name], folder, args.config, args.steps, seed)
            print(f"trained {run_name} on {len(list((folder / 'train').iterdir())) - 1} images "
                  f"in {minutes[run_name]:.1f} min", flush=True)  # fmt: skip
    test_dir = work / f"test-{len(data['test'])}"  # exactly the renders evaluated
    test_dir.mkdir(exist_ok=True)
    for path in data["test"]:
        if not (test_dir / path.name).exists():
            (test_dir / path.name).write_bytes(path.read_bytes())
    columns = [f"clip art x{s}" for s in SCALES] + [f"{bench.name} x4" for bench in sets]
    pairs = [(n, n.replace("dirty", "curated")) for n in models if n.startswith("dirty")]
    first = {n: models[n] for n in ("official", *pairs[0])}
    # every scale for the first seed's models; the other seeds at x4, where the targets are
    clip_art = evaluate(first, [test_dir], list(SCALES))
    others = {n: w for n, w in models.items() if n not in first}
    clip_art.update(evaluate(others, [test_dir], [4]) if others else {})
    partial = {
        "clip_art": {n: {str(k): v["psnr"] for k, v in r.items()} for n, r in clip_art.items()}
    }
    (work / "results.json").write_text(json.dumps({**partial, "curation": quality}, indent=2))
    generic = evaluate(models, sets, [4]) if sets else {name: {} for name in models}
    runs: dict[str, dict[str, float]] = {}
    for name in models:
        scores = {f"clip art x{k[1]:g}": row["psnr"] for k, row in clip_art[name].items()}
        scores.update({f"{b.name} x4": generic[name][(b.name, 4.0)]["psnr"] for b in sets})
        runs[name] = scores
    pools = ("official", "dirty", "curated")
    table = {pool: runs[name] for pool, name in zip(pools, first, strict=True)}
    print()
    print("| model | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")
    for name in ("dirty", "curated"):
        gains = " ".join(f"{c}: {table[name][c] - table['official'][c]:+.3f}" for c in columns)
        print(f"{name} − official: {gains}")
    # A mean can hide one outlier, and one run can be lucky: per seed, curated − dirty at x4
    # with its standard error over the test images and how many images it wins.
    per_image = {n: clip_art[n][(test_dir.name, 4.0)]["per_image"] for n in models}
    gaps = []
    for dirty, curated in pairs:
        diffs = [per_image[curated][k] - per_image[dirty][k] for k in per_image[curated]]
        gaps.append(statistics.fmean(diffs))
        spread = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
        print(
            f"curated − dirty at clip art x4 ({curated}): {gaps[-1]:+.3f} dB "
            f"± {spread:.3f} (s.e. over {len(diffs)} test images); "
            f"curated wins on {sum(d > 0 for d in diffs)} of {len(diffs)}"
        )
    if len(pairs) > 1:
        x4 = [c for c in columns if c.endswith(" x4")]
        print(f"\nx4 over {len(pairs)} training seeds {seeds}, mean (min … max) against official:")
        for pool in (0, 1):
            cells = []
            for c in x4:
                gains = [runs[pair[pool]][c] - runs["official"][c] for pair in pairs]
                cells.append(f"{c} {statistics.fmean(gains):+.3f} ({min(gains):+.3f} … "
                             f"{max(gains):+.3f})")  # fmt: skip
            print(f"  {('dirty', 'curated')[pool]}: " + "; ".join(cells))
        print(
            f"  curated − dirty at clip art x4: mean {statistics.fmean(gaps):+.3f} dB "
            f"(min {min(gaps):+.3f}, max {max(gaps):+.3f})"
        )
    for name in reversed(pairs[0]):  # the first seed's curated, then dirty
        wins = sum(per_image[name][k] > per_image["official"][k] for k in per_image[name])
        count = len(per_image[name])
        print(f"{name} beats official at clip art x4 on {wins} of {count} test images")
    total = (time.monotonic() - start) / 60
    print(f"whole experiment: {total:.1f} min")
    results = {
        "table": table,
        "runs": runs,
        "gaps_x4": gaps,
        "per_image_x4": per_image,
        "curation": quality,
        "train_minutes": minutes,
        "minutes": total,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
