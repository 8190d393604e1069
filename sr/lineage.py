"""Lineage from data to model to numbers: which curated set, and which curation, made a model.

``curator export`` writes ``OUT/lineage.json`` (the catalog state the export came from: last
event id, a digest of the accepted ids, the rejections and their reasons). ``sr train`` copies
the lineage of the folder it trains on into ``RUN/run.json``, so a run keeps it even if the export
is deleted; ``sr eval --json`` reports it for any checkpoint of a run. This module owns the export
file's name (the run folder's names are ``sr.run_layout``'s); ``curator`` writes through
``write_export_lineage``.
"""

from __future__ import annotations

import json
from pathlib import Path

from sr.atomic import write_atomic
from sr.export_layout import LINEAGE
from sr.run_layout import RUN_FILE, run_of_checkpoint


def write_export_lineage(folder: Path, lineage: dict) -> Path:
    """Write an export's lineage (atomically) into ``folder``."""
    return write_atomic(folder / LINEAGE, (json.dumps(lineage, indent=1) + "\n").encode())


def read_export_lineage(folder: str | Path) -> dict | None:
    """The lineage an export folder carries, or None (a plain folder, or an unreadable file)."""
    try:
        return json.loads((Path(folder) / LINEAGE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_folder_of(weights: str | Path) -> Path | None:
    """The run a weights spec belongs to (a run folder, or ``RUN/checkpoints/X.safetensors``)."""
    path = Path(weights)
    if path.is_dir():
        return path if (path / RUN_FILE).is_file() else None
    run = run_of_checkpoint(path)
    return run if run is not None and (run / RUN_FILE).is_file() else None


def model_lineage(weights: str | Path) -> dict | None:
    """What a model was trained on: ``{"run", "data", "data_lineage"}``; None for weights that
    come from no run here (``official``, a loose file)."""
    run = run_folder_of(weights) if str(weights) != "official" else None
    if run is None:
        return None
    try:
        saved = json.loads((run / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {"run": str(run), "data": saved.get("data"), "data_lineage": saved.get("data_lineage")}
