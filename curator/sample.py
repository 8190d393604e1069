"""An offline sample workspace from the pictures that ship inside scikit-image (no download)."""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from curator.catalog import Provenance, list_images
from curator.curation import accept
from curator.ingest import add_image, ingest_paths
from curator.prompts import add_prompt, list_prompts
from curator.shared_map import refresh_map
from curator.store import image_path, load_rgb
from curator.workspace import Workspace, init_workspace
from sr.atomic import write_atomic
from sr.image_files import ImageData
from sr.image_formats import READ_SUFFIXES

SAMPLE_PROMPTS = ("a photo of a cat", "a rocket on the launch pad at dusk")
Progress = Callable[[int, int], None]


def skimage_pictures() -> list[Path]:
    """The image files inside the installed scikit-image package's data folder."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in READ_SUFFIXES)


def _add_augmented(ws: Workspace, parent_id: int, how: str) -> int:
    """A degraded copy of an original (JPEG q=8 or Gaussian blur), recorded as ``augmented``."""
    from curator.catalog import get_image

    rgb = load_rgb(image_path(ws, get_image(ws, parent_id)))
    if how == "jpeg":
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=8)
        data, ext = buf.getvalue(), ".jpg"
        pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        fmt = "JPEG"
    else:
        pixels = cv2.GaussianBlur(rgb, (0, 0), 3)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        data, ext, fmt = buf.getvalue(), ".png", "PNG"
    image_id, _ = add_image(
        ws,
        content_hash=hashlib.sha256(data).hexdigest(),
        store_file=lambda target: write_atomic(target, data),
        extension=ext,
        decoded=ImageData(pixels, None, fmt),
        original_name=f"augmented-{how}-of-{parent_id}{ext}",
        mode="RGB",
        provenance=Provenance(
            source="augmented", parent_id=parent_id, generator_settings={"augment": how}
        ),
    )
    return image_id


def build_sample(
    root: str | Path, *, encoder: str | None = None, progress: Progress | None = None
) -> Workspace:
    """Create ``root`` with ~28 scikit-image pictures ingested, curated, embedded and mapped."""
    root = Path(root)
    ws = init_workspace(root, encoder=encoder)
    source = root / "sample-images"
    source.mkdir(exist_ok=True)
    for path in skimage_pictures():
        if not (source / path.name).exists():
            shutil.copyfile(path, source / path.name)
    ingest_paths(ws, [source], progress=progress)
    by_name = {Path(r.original_name).name: r.id for r in list_images(ws, source="original")}
    for name, how in (("astronaut.png", "jpeg"), ("coffee.png", "blur")):
        if name in by_name:
            _add_augmented(ws, by_name[name], how)
    # Accept what passed every check so export works at once; flagged images wait for a look.
    accept(ws, [r.id for r in list_images(ws) if not r.flags], reason="sample: no quality flag")
    known = {p.text for p in list_prompts(ws)}
    for text in SAMPLE_PROMPTS:
        if text not in known:
            add_prompt(ws, text, note="sample")
    refresh_map(ws, progress=progress)
    return ws
