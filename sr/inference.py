"""Upscaling a whole image with bounded memory: tiles for the encoder, chunks for the decoder.

The output grid is split into tiles by the low-resolution (LR) cell each output pixel's centre
falls in. For a tile, the LR crop is the span of every latent code its queries touch, widened by
the encoder's receptive radius (+1 for the 3x3 unfold), so every code the tile reads is computed
from exactly the pixels it would see in the whole image: tiled output equals untiled output up
to float rounding. Peak memory follows ``tile`` and ``chunk``, never the image size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from sr.coords import axis_centres
from sr.models.liif import LIIF, LatentGrid, Scratch, axis_codes

_CODE_MAX = {torch.uint8: 255, torch.uint16: 65535}  # integer images: code of white

# Receives each finished block: (top, left, rgb (3, bh, bw) float on the [0, 1] scale, unclamped).
BlockSink = Callable[[int, int, torch.Tensor], None]


@dataclass(frozen=True)
class TileSettings:
    """Work-size knobs. ``tile``: LR pixels per tile side; ``chunk``: queries per decoder call."""

    tile: int = 256
    chunk: int = 4096

    def __post_init__(self) -> None:
        # A tile or chunk below 1 would leave output pixels unwritten (garbage) or divide by 0.
        for name in ("tile", "chunk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")


@dataclass(frozen=True)
class _AxisSpan:
    """Output indices [out0, out1) whose codes lie in LR [lr0, lr1), with the crop they need."""

    out0: int
    out1: int
    crop0: int
    crop1: int


def _axis_spans(
    n_out: int, n_lr: int, tile: int, halo: int, local_ensemble: bool
) -> list[_AxisSpan]:
    """Split one axis into equal tiles of at most ``tile`` LR cells and the output indices that
    fall in each. Equal tiles, not ``tile``-sized ones and a remainder: every tile pays the same
    halo, so the fewest tiles of even size recompute the least."""
    # Output pixel i's centre lies in LR cell floor((2i + 1) * n_lr / (2 n_out)).
    owner = (2 * torch.arange(n_out, dtype=torch.int64) + 1) * n_lr // (2 * n_out)
    n_tiles = -(-n_lr // tile)
    bounds = [i * n_lr // n_tiles for i in range(n_tiles + 1)]
    spans = []
    for lr0, lr1 in zip(bounds[:-1], bounds[1:], strict=True):
        members = torch.nonzero((owner >= lr0) & (owner < lr1)).flatten()
        if members.numel() == 0:
            continue
        out0, out1 = int(members[0]), int(members[-1]) + 1
        codes = axis_codes(axis_centres(n_out)[out0:out1], n_lr, local_ensemble)
        lo = min(int(index.min()) for index in codes.index.values())
        hi = max(int(index.max()) for index in codes.index.values())
        spans.append(_AxisSpan(out0, out1, max(0, lo - halo), min(n_lr, hi + 1 + halo)))
    return spans


def _decode_tile(
    model: LIIF,
    grid: LatentGrid,
    out_size: tuple[int, int],
    rows: tuple[int, int],
    cols: tuple[int, int],
    chunk: int,
    sink: BlockSink,
    scratch: Scratch,
    progress: Callable[[int], None] | None,
) -> None:
    """Query every output pixel of a tile in blocks of about ``chunk`` pixels, into ``sink``.

    ``progress`` hears each block's pixel count: a large output of a small image is one tile,
    and a caller that shows progress, or stops a job between blocks, needs finer steps.
    """
    out_h, out_w = out_size
    device = grid.table.device
    ensemble = model.config.local_ensemble
    row_codes = axis_codes(
        axis_centres(out_h)[rows[0] : rows[1]].to(device), grid.full_size[0], ensemble
    )
    col_codes = axis_codes(
        axis_centres(out_w)[cols[0] : cols[1]].to(device), grid.full_size[1], ensemble
    )
    block_w = min(cols[1] - cols[0], chunk)
    block_h = max(1, chunk // block_w)
    for top in range(0, rows[1] - rows[0], block_h):
        block_rows = row_codes.slice(top, top + block_h)
        for left in range(0, cols[1] - cols[0], block_w):
            block_cols = col_codes.slice(left, left + block_w)
            rgb = model.decode_grid(grid, block_rows, block_cols, (2 / out_h, 2 / out_w), scratch)
            sink(rows[0] + top, cols[0] + left, rgb.permute(2, 0, 1).cpu())
            if progress is not None:
                progress(rgb.shape[0] * rgb.shape[1])


@dataclass(frozen=True)
class RowBand:
    """Output rows [top, bottom) of one row of tiles; ``draw(sink)`` renders them into ``sink``."""

    top: int
    bottom: int
    draw: Callable[[BlockSink], None] = field(repr=False)


def row_bands(
    model: LIIF,
    img: torch.Tensor,
    out_size: tuple[int, int],
    settings: TileSettings = TileSettings(),
    progress: Callable[[int], None] | None = None,
) -> Iterator[RowBand]:
    """The bands of output rows of an upscale of ``img`` ``(3, h, w)`` to ``out_size`` (H, W).

    ``img`` holds floats in [0, 1], or uint8/uint16 codes that are scaled to [0, 1] as each tile
    is cut (the same values, without a float copy of the whole image, 4 bytes per sample).

    Bands come top to bottom and cover every row once; nothing is computed until a band is
    drawn, and ``band.draw(sink)`` sends every block of its rows (all columns) to ``sink``, so a
    caller can finish (encode, write) one band of rows before the next one is computed.
    ``progress`` is called with the number of output pixels finished after each block.
    """
    _, h, w = img.shape
    halo = model.halo
    ensemble = model.config.local_ensemble
    col_spans = _axis_spans(out_size[1], w, settings.tile, halo, ensemble)
    scratch = Scratch()  # decoder buffers, reused by every band
    for rs in _axis_spans(out_size[0], h, settings.tile, halo, ensemble):

        def draw(sink: BlockSink, rs: _AxisSpan = rs) -> None:
            _draw_band(model, img, out_size, rs, col_spans, settings.chunk, sink, scratch, progress)

        yield RowBand(rs.out0, rs.out1, draw)


@torch.no_grad()
def _draw_band(
    model: LIIF,
    img: torch.Tensor,
    out_size: tuple[int, int],
    rs: _AxisSpan,
    col_spans: list[_AxisSpan],
    chunk: int,
    sink: BlockSink,
    scratch: Scratch,
    progress: Callable[[int], None] | None,
) -> None:
    """Every tile of the row span ``rs``, left to right, into ``sink``."""
    device = next(model.parameters()).device
    _, h, w = img.shape
    for cs in col_spans:
        crop = img[:, rs.crop0 : rs.crop1, cs.crop0 : cs.crop1].unsqueeze(0).to(device)
        if not crop.is_floating_point():
            crop = crop.float().div_(_CODE_MAX[crop.dtype])
        feat = model.gen_feat(crop)
        grid = LatentGrid(
            table=model.latent_table(feat),
            crop_size=(feat.shape[-2], feat.shape[-1]),
            origin=(rs.crop0, cs.crop0),
            full_size=(h, w),
        )
        _decode_tile(
            model,
            grid,
            out_size,
            (rs.out0, rs.out1),
            (cs.out0, cs.out1),
            chunk,
            sink,
            scratch,
            progress,
        )


def render(
    model: LIIF,
    img: torch.Tensor,
    out_size: tuple[int, int],
    sink: BlockSink,
    settings: TileSettings = TileSettings(),
    progress: Callable[[int], None] | None = None,
) -> None:
    """Upscale ``img`` ``(3, h, w)`` in [0, 1] to ``out_size`` (H, W), block by block into ``sink``.

    Blocks come band by band (see ``row_bands``), top to bottom. ``progress`` is called with the
    number of output pixels finished after each block.
    """
    for band in row_bands(model, img, out_size, settings, progress):
        band.draw(sink)


def upscale_tensor(
    model: LIIF,
    img: torch.Tensor,
    out_size: tuple[int, int],
    settings: TileSettings = TileSettings(),
) -> torch.Tensor:
    """Upscale ``img`` ``(3, h, w)`` to a float tensor ``(3, H, W)`` (unclamped)."""
    out = torch.empty(3, *out_size)

    def write(top: int, left: int, block: torch.Tensor) -> None:
        out[:, top : top + block.shape[1], left : left + block.shape[2]] = block

    render(model, img, out_size, write, settings)
    return out


def iter_tiles(n_out: int, n_lr: int, tile: int, halo: int) -> Iterator[tuple[int, int, int, int]]:
    """(out0, out1, crop0, crop1) of each tile along one axis; for tests and diagnostics."""
    for span in _axis_spans(n_out, n_lr, tile, halo, local_ensemble=True):
        yield span.out0, span.out1, span.crop0, span.crop1
