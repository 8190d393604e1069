"""Upscale page: one image, a scale or an exact size, LIIF next to bicubic, download."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from curator.studio.models import cached_model, model_label, pick_model, pick_precision
from curator.studio.progress import JobProgress
from curator.studio.state import open_current, workspace_root
from sr.image_files import ImageData, ImageFileError, eight_bit_rgb, image_size, read_image
from sr.image_formats import FORMAT_EXTENSIONS, READ_SUFFIXES, writable_format
from sr.upscale import (
    Target,
    UpscaleError,
    output_size,
    parse_scale,
    parse_size,
    upscale_notes,
    write_upscaled,
)

UPLOAD_TYPES = sorted(suffix.lstrip(".") for suffix in READ_SUFFIXES)
# Above this many output pixels the page asks before starting: minutes to hours on a CPU, and
# a file of hundreds of MB (the hard limit, sr.upscale.DEFAULT_MAX_PIXELS, is 268 MP).
CONFIRM_PIXELS = 16_000_000


def _source_file(tmp: Path) -> Path | None:
    """The uploaded file (saved to ``tmp``) or the typed path; None when neither is given."""
    upload = st.file_uploader("Upload an image", type=UPLOAD_TYPES, key="upscale_upload")
    typed = st.text_input("…or an image path on this machine", key="upscale_path").strip()
    picked = None
    if workspace_root() is not None:
        picked = st.number_input(
            "…or an image of the workspace (id)", min_value=0, value=None, key="upscale_image_id"
        )
    if upload is not None:
        path = tmp / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        return path
    if typed:
        return Path(typed).expanduser()
    if picked:
        from curator.catalog import get_image
        from curator.errors import CuratorError
        from curator.store import image_path

        ws = open_current()
        try:
            return image_path(ws, get_image(ws, int(picked)))
        except CuratorError:  # a message under the field; the rest of the form stays
            st.error(f"There is no image #{int(picked)} in this workspace.")
    return None


def _target() -> Target | None:
    """Scale or exact size from the inputs; None (and a message) while the text is invalid."""
    mode = st.radio("Output", ["Scale", "Exact size"], horizontal=True, key="upscale_mode")
    try:
        if mode == "Scale":
            text = st.text_input("Scale (e.g. 3, 1.7 or 2x1.5)", value="2", key="upscale_scale")
            return Target(scale=parse_scale(text))
        text = st.text_input(
            "Size WxH (0 keeps the aspect ratio)", value="512x0", key="upscale_size"
        )
        return Target(size=parse_size(text))
    except UpscaleError as exc:
        st.error(str(exc))
        return None


def preview(image: ImageData) -> np.ndarray:
    """8-bit RGB array for display (alpha dropped)."""
    return eight_bit_rgb(image)


def bicubic(image: ImageData, out_hw: tuple[int, int]) -> np.ndarray:
    """The bicubic baseline at the same size, 8-bit RGB."""
    pil = Image.fromarray(preview(image))
    return np.asarray(pil.resize((out_hw[1], out_hw[0]), Image.BICUBIC))


def run_upscale(src: Path, target: Target, spec: str, precision: str = "fp32") -> dict:
    """Upscale ``src`` with the model ``spec`` as ``sr upscale`` does (``write_upscaled``, the
    work of ``upscale_file`` after its decode); the result is encoded in the input's format (PNG
    when that format cannot be written)."""
    image = read_image(src)  # decoded once: sizes, notes, bicubic and the upscale all use it
    out_hw = output_size(image.size, target)
    model = cached_model(spec, precision)
    label = f"Upscaling to {out_hw[1]}×{out_hw[0]}"
    job = JobProgress(label, "upscale", "Upscale cancelled; nothing was written.")
    done = [0]

    def progress(pixels: int) -> None:
        done[0] += pixels
        job(done[0], out_hw[0] * out_hw[1])

    fmt = writable_format(image.format)
    name = f"{src.stem}_{out_hw[1]}x{out_hw[0]}{FORMAT_EXTENSIONS[fmt]}"
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / name
        write_upscaled(model, image, dst, out_hw, fmt, progress=progress)
        data = dst.read_bytes()
        result = read_image(dst)
    job.close()
    Image.init()  # loads every format plugin, which is what fills Image.MIME
    return {
        "name": name,
        "mime": Image.MIME[fmt],
        "data": data,
        "format": fmt,
        "in_hw": image.size,
        "out_hw": out_hw,
        "model": model_label(spec) + ("" if precision == "fp32" else f", {precision}"),
        "liif": preview(result),
        "bicubic": bicubic(image, out_hw),
        "notes": upscale_notes(Path(src.name), image, fmt),  # named without the upload's temp dir
    }


def show_result(result: dict) -> None:
    """Bicubic and LIIF side by side, plus the download button."""
    (h, w), (oh, ow) = result["in_hw"], result["out_hw"]
    st.caption(f"{w}×{h} → {ow}×{oh} · model {result['model']} · {result['format']}")
    for note in result["notes"]:
        st.info(note)
    left, right = st.columns(2)
    left.image(result["bicubic"], caption="Bicubic", width="stretch")
    right.image(result["liif"], caption=f"LIIF ({result['model']})", width="stretch")
    st.download_button(
        f"Download {result['name']}",
        data=result["data"],
        file_name=result["name"],
        mime=result["mime"],
        key="upscale_download",
    )


def _confirm_size(src: Path, target: Target) -> bool:
    """False while the output size is unknown or very large and not confirmed by a tick."""
    try:
        out_h, out_w = output_size(image_size(src), target)
    except (UpscaleError, ImageFileError, OSError) as exc:
        st.error(str(exc))
        return False
    if out_h * out_w <= CONFIRM_PIXELS:
        return True
    st.warning(
        f"The result would be {out_w}×{out_h} ({out_h * out_w / 1e6:.0f} MP): this can take a "
        "long time on a CPU and makes a large file. The job can be cancelled while it runs."
    )
    # The key holds the size, so a new size asks again.
    return st.checkbox(
        f"Yes, make a {out_h * out_w / 1e6:.0f} MP image", key=f"upscale_ok_{out_w}x{out_h}"
    )


def render() -> None:
    """Draw the Upscale page."""
    st.title("Upscale")
    with tempfile.TemporaryDirectory() as tmp:
        src = _source_file(Path(tmp))
        target = _target()
        spec = pick_model("upscale_model")
        precision = pick_precision("upscale_precision")
        confirmed = src is not None and target is not None and _confirm_size(src, target)
        if st.button("Upscale", type="primary", key="upscale_run", disabled=not confirmed):
            if not spec:
                st.error("Choose a model: `official`, a run folder or a .safetensors file.")
            else:
                st.session_state["upscale_result"] = None
                st.session_state["upscale_result"] = run_upscale(src, target, spec, precision)
    if st.session_state.get("upscale_result"):
        show_result(st.session_state["upscale_result"])
