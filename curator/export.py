"""Export accepted images as a Hugging Face ``imagefolder`` dataset (layout: docs/curator.md)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from curator.catalog import IMAGES_WITH_STATUS, ImageRecord, list_images
from curator.errors import CuratorError
from curator.prompts import list_prompts
from curator.store import image_path
from curator.workspace import Workspace
from sr.atomic import default_mode
from sr.export_layout import CARD, METADATA, SPLITS, TRAIN, VALIDATION
from sr.hashed_split import hash_rank, validation_items
from sr.lineage import write_export_lineage
from sr.safe_paths import UnsafeTargetError, check_target, move_aside


@dataclass(frozen=True)
class ExportReport:
    """Where the dataset went and how many images each split got."""

    out: Path
    counts: dict[str, int]
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    by_round: dict[str, dict[str, int]] = field(default_factory=dict)
    backup: Path | None = None  # where an overwritten export was moved to


def split_score(content_hash: str, seed: int) -> float:
    """A stable number in [0, 1) per image: below the validation fraction → validation."""
    # sha256 of seed and content (not sr train's sha1 of the file name): changing either would
    # move images of existing exports between train and validation
    return hash_rank(f"{seed}:{content_hash}".encode(), "sha256")


def assign_splits(records: list[ImageRecord], val_fraction: float, seed: int) -> dict[int, str]:
    """Image id → split name (deterministic; stable when images are added)."""
    if not 0.0 <= val_fraction < 1.0:
        raise CuratorError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    scores = {r.id: split_score(r.content_hash, seed) for r in records}
    val = validation_items(scores, val_fraction)
    return {i: (VALIDATION if i in val else TRAIN) for i in scores}


def _row(record: ImageRecord, file_name: str, split: str, prompts: dict) -> dict:
    prompt = prompts.get(record.prompt_id)
    return {
        "file_name": file_name,
        "image_id": record.id,
        "content_hash": record.content_hash,
        "source": record.source,
        "round": record.round,
        "parent_id": record.parent_id,
        "prompt_id": record.prompt_id,
        "prompt": prompt.text if prompt else None,
        "negative_prompt": prompt.negative if prompt else None,
        "seed": record.seed,
        "generator_model": record.generator_model,
        "generator_settings": record.generator_settings,
        "width": record.width,
        "height": record.height,
        "bit_depth": record.bit_depth,
        "mode": record.mode,
        "original_name": record.original_name,
        "flags": sorted(record.flags),
        "split": split,
    }


def _card(ws: Workspace, counts: dict, by_source: dict, by_round: dict, args: str) -> str:
    lines = [
        "---",
        "task_categories:",
        "- image-to-image",
        "tags:",
        "- super-resolution",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: train/**",
        "  - split: validation",
        "    path: validation/**",
        "---",
        "",
        f"# {ws.root.name}: curated super-resolution images",
        "",
        f"Exported by `curator export` ({args}) from the workspace `{ws.root.name}`: accepted",
        "images only, with their provenance in each split's `metadata.jsonl`.",
        "",
        "| split | images |",
        "|---|---|",
        *[f"| {s} | {counts[s]} |" for s in SPLITS],
        "",
        "| split | source | images |",
        "|---|---|---|",
        *[f"| {s} | {src} | {n} |" for s in SPLITS for src, n in sorted(by_source[s].items())],
        "",
        "| split | round | images |",
        "|---|---|---|",
        *[f"| {s} | {r} | {n} |" for s in SPLITS for r, n in sorted(by_round[s].items())],
        "",
        'Load with `datasets.load_dataset("imagefolder", data_dir=...)` or `sr train --data ...`.',
        "",
    ]
    return "\n".join(lines)


def catalog_state(ws: Workspace) -> dict:
    """The catalog state an export comes from: last event, accepted ids (count and digest), and
    every rejection with its reason and flags."""
    with ws.session() as conn:
        last = conn.execute("SELECT max(id) FROM events").fetchone()[0]
        sql = "SELECT image_id FROM image_status WHERE status = 'accepted' ORDER BY image_id"
        accepted = [r[0] for r in conn.execute(sql)]
        rejected = conn.execute(
            f"SELECT id, status_reason, original_name FROM {IMAGES_WITH_STATUS}"
            " WHERE status = 'rejected'"
            " ORDER BY id"
        ).fetchall()
        flags: dict[int, list[str]] = {}
        for row in conn.execute("SELECT image_id, flag FROM flags ORDER BY flag"):
            flags.setdefault(row[0], []).append(row[1])
    ids_text = ",".join(str(i) for i in sorted(accepted))
    reasons = Counter(r["status_reason"] or "" for r in rejected)
    return {
        "workspace": str(ws.root.resolve()),
        "last_event_id": last,
        "accepted": len(accepted),
        "accepted_ids_sha256": hashlib.sha256(ids_text.encode()).hexdigest(),
        "rejection_reasons": dict(sorted(reasons.items())),
        "rejected": [
            {"id": r["id"], "reason": r["status_reason"] or "", "flags": flags.get(r["id"], []),
             "original_name": r["original_name"]}
            for r in rejected
        ],
    }  # fmt: skip


def check_export_target(ws: Workspace, out: Path, *, overwrite: bool) -> None:
    """Refuse an export folder that would touch the workspace, a file, or (without
    ``overwrite``) a folder that already holds something."""
    exports = Path(os.path.realpath(ws.exports_dir))
    real = Path(os.path.realpath(out))  # realpath: a link loop is not an error here
    if exports not in real.parents:  # WS/exports/NAME is the workspace's own place
        try:
            check_target(out, protected=[ws.root], what="export folder")
        except UnsafeTargetError as exc:
            raise CuratorError(str(exc)) from None
    if out.exists() and not out.is_dir():
        raise CuratorError(f"{out}: exists and is not a folder (choose another --out)")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise CuratorError(
            f"{out}: exists and is not empty (pass --overwrite to move it aside to a dated backup)"
        )


def export_dataset(
    ws: Workspace, out: str | Path, *, val_fraction: float = 0.1, seed: int = 0,
    overwrite: bool = False,
) -> ExportReport:  # fmt: skip
    """Write accepted images + metadata.jsonl + README.md to ``out`` (built aside, then moved).

    An existing ``out`` is never deleted: with ``overwrite`` it is renamed to a dated backup
    (``OUT.backup-YYYYMMDD-HHMMSS``) once the new export is complete.
    """
    out = Path(out)
    check_export_target(ws, out, overwrite=overwrite)
    records = list_images(ws, status="accepted")
    if not records:
        raise CuratorError(f"{ws.root}: no accepted images to export")
    splits = assign_splits(records, val_fraction, seed)
    prompts = {p.id: p for p in list_prompts(ws)}
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
        for record in records:
            split = splits[record.id]
            source = image_path(ws, record)
            name = f"{record.id:06d}_{record.content_hash[:12]}{source.suffix}"
            (build / split).mkdir(exist_ok=True)
            shutil.copyfile(source, build / split / name)
            rows[split].append(_row(record, name, split, prompts))
        counts = {s: len(rows[s]) for s in SPLITS}
        by_source = {s: dict(Counter(r["source"] for r in rows[s])) for s in SPLITS}
        by_round = {s: dict(Counter(str(r["round"]) for r in rows[s])) for s in SPLITS}
        for split, split_rows in rows.items():
            if split_rows:
                text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in split_rows)
                (build / split / METADATA).write_text(text, encoding="utf-8")
        args = f"val_fraction={val_fraction}, seed={seed}"
        (build / CARD).write_text(_card(ws, counts, by_source, by_round, args))
        lineage = catalog_state(ws)
        write_export_lineage(build, {**lineage, "val_fraction": val_fraction, "seed": seed})
        os.chmod(build, default_mode(folder=True))  # mkdtemp made it private (0700)
        backup = None
        if out.is_dir() and any(out.iterdir()):
            backup = move_aside(out)
        elif out.is_dir():
            out.rmdir()  # empty: nothing to keep
        try:
            build.rename(out)
        except BaseException:
            if backup is not None:
                backup.rename(out)
            raise
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return ExportReport(out, counts, by_source, by_round, backup)
