"""LIIF: Local Implicit Image Function (Chen, Liu, Wang; arXiv 2012.09161).

The encoder turns the low-resolution image into a grid of latent codes; the decoder predicts the
RGB value at any continuous coordinate from the (unfolded) codes nearest to it, the relative
coordinate and the cell size, blending the four nearest codes by the area of the opposite
rectangles ("local ensemble").

``query_rgb`` is the fast path. The decoder's first layer is linear in the unfolded 3x3
neighbourhood of a code, so it is computed once per latent code as a 3x3 convolution
(``latent_table``) and shared by every query that lands on that code, instead of re-building a
576-wide input per query. ``sr.models.liif_reference`` keeps the literal method for tests.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sr.coords import axis_centres
from sr.models.edsr import EDSREncoder
from sr.models.mlp import MLP

# The official code nudges the shifted coordinates so ties between two codes break the same way
# everywhere, and keeps them strictly inside (-1, 1).
EPS_SHIFT = 1e-6
AREA_EPS = 1e-9
LIIF_EDSR = "liif-edsr"  # the architecture name checkpoints carry (``sr.models.registry``)


@dataclass(frozen=True)
class LIIFConfig:
    """Architecture of a LIIF-EDSR model; stored beside the weights so a checkpoint rebuilds it."""

    n_resblocks: int = 16
    n_feats: int = 64
    hidden_list: tuple[int, ...] = (256, 256, 256, 256)
    local_ensemble: bool = True
    feat_unfold: bool = True
    cell_decode: bool = True

    def to_json(self) -> str:
        """Serialise as JSON (``{"name": "liif-edsr", "args": {...}}``)."""
        args = asdict(self)
        args["hidden_list"] = list(self.hidden_list)
        return json.dumps({"name": LIIF_EDSR, "args": args}, sort_keys=True)

    @classmethod
    def from_args(cls, args: dict) -> LIIFConfig:
        """From the ``args`` of ``to_json`` (lists back to tuples)."""
        args = dict(args)
        if "hidden_list" in args:
            args["hidden_list"] = tuple(args["hidden_list"])
        return cls(**args)

    @classmethod
    def from_json(cls, text: str) -> LIIFConfig:
        """Parse what ``to_json`` wrote."""
        return cls.from_args(json.loads(text)["args"])


@dataclass
class LatentGrid:
    """Per-code first-layer table of a (possibly cropped) latent grid.

    ``table`` is ``(B, crop_h * crop_w, D)``; ``origin`` is the crop's top-left code in the full
    grid of ``full_size`` codes, which is what coordinates are relative to.
    """

    table: torch.Tensor
    crop_size: tuple[int, int]
    origin: tuple[int, int] = (0, 0)
    full_size: tuple[int, int] = field(default=(0, 0))

    def __post_init__(self) -> None:
        if self.full_size == (0, 0):
            self.full_size = self.crop_size


@dataclass(frozen=True)
class AxisCodes:
    """Along one axis, per ensemble offset v: each output centre's nearest code and its offset
    from that code's centre in code units."""

    index: dict[int, torch.Tensor]
    rel: dict[int, torch.Tensor]

    def __len__(self) -> int:
        return len(next(iter(self.index.values())))

    def slice(self, start: int, stop: int) -> AxisCodes:
        """The codes of output centres ``start:stop``."""
        return AxisCodes(
            {v: t[start:stop] for v, t in self.index.items()},
            {v: t[start:stop] for v, t in self.rel.items()},
        )


class Scratch:
    """Named buffers reused from block to block of one render, grown when a block needs more."""

    def __init__(self) -> None:
        self._flat: dict[str, torch.Tensor] = {}

    def take(
        self,
        name: str,
        shape: tuple[int, ...],
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """A tensor of ``shape`` (uninitialised) backed by the buffer ``name``."""
        size = math.prod(shape)
        buf = self._flat.get(name)
        if buf is None or buf.numel() < size or buf.device != device or buf.dtype != dtype:
            buf = torch.empty(size, device=device, dtype=dtype)
            self._flat[name] = buf
        return buf[:size].view(shape)


def nearest_code_index(coord: torch.Tensor, size: int) -> torch.Tensor:
    """Index of the nearest of ``size`` cell centres for each coordinate in ``coord`` (any shape).

    Uses ``grid_sample(mode="nearest")`` on a map of indices, so ties round exactly as the
    reference's ``grid_sample`` on the feature map does.
    """
    index_map = torch.arange(size, dtype=torch.float32, device=coord.device).view(1, 1, size, 1)
    flat = coord.reshape(1, 1, -1, 1).float()
    grid = torch.cat([torch.zeros_like(flat), flat], dim=-1)  # grid_sample wants (x, y)
    picked = F.grid_sample(index_map, grid, mode="nearest", align_corners=False)
    return picked.view(coord.shape).long()


def ensemble_shifts(local_ensemble: bool) -> list[tuple[int, int]]:
    """The (vy, vx) neighbour offsets decoded for every query."""
    if local_ensemble:
        return [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    return [(0, 0)]


def ensemble_neighbours(
    coord: torch.Tensor, feat_size: tuple[int, int], local_ensemble: bool
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per ensemble shift: the nearest code's row ``(B, N)``, column ``(B, N)`` and the query's
    offset from that code's centre in code units ``(B, N, 2)``, for queries ``coord`` ``(B, N, 2)``.
    """
    # Each axis's code depends on that axis's shift alone: two lookups per axis serve all four.
    rows = axis_codes(coord[..., 0], feat_size[0], local_ensemble)
    cols = axis_codes(coord[..., 1], feat_size[1], local_ensemble)
    return [
        (rows.index[vy], cols.index[vx], torch.stack([rows.rel[vy], cols.rel[vx]], dim=-1))
        for vy, vx in ensemble_shifts(local_ensemble)
    ]


class LIIF(nn.Module):
    """EDSR-baseline encoder + MLP decoder. Images in and out are on the [0, 1] scale."""

    def __init__(self, config: LIIFConfig | None = None) -> None:
        super().__init__()
        self.config = config or LIIFConfig()
        cfg = self.config
        self.encoder = EDSREncoder(n_resblocks=cfg.n_resblocks, n_feats=cfg.n_feats)
        feat_dim = cfg.n_feats * (9 if cfg.feat_unfold else 1)
        in_dim = feat_dim + 2 + (2 if cfg.cell_decode else 0)
        self.imnet = MLP(in_dim, 3, cfg.hidden_list)

    @property
    def dtype(self) -> torch.dtype:
        """The weights' float type: fp32, or bf16/fp16 for reduced-precision inference."""
        return self.imnet.linears[0].weight.dtype

    @property
    def halo(self) -> int:
        """Input pixels around a code that its first-layer table entry depends on."""
        return self.encoder.receptive_radius + (1 if self.config.feat_unfold else 0)

    def gen_feat(self, img: torch.Tensor) -> torch.Tensor:
        """Latent codes ``(B, C, h, w)`` of images ``(B, 3, h, w)`` in [0, 1].

        The codes come back channels-last: oneDNN's convolutions are faster in that layout, and it
        lets ``latent_table`` hand out per-code rows without a copy. They are in the weights'
        dtype (``sr.precision``: bf16/fp16 weights run the encoder in that type).
        """
        x = ((img - 0.5) / 0.5).to(self.dtype).contiguous(memory_format=torch.channels_last)
        return self.encoder(x)

    def latent_table(self, feat: torch.Tensor) -> torch.Tensor:
        """First decoder layer's feature term (+ bias) for every code: ``(B, h*w, D)``."""
        first = self.imnet.linears[0]
        n_feat_in = feat.shape[1] * (9 if self.config.feat_unfold else 1)
        weight = first.weight[:, :n_feat_in]
        if self.config.feat_unfold:
            # F.unfold orders the 9C inputs channel-major (c, ky, kx): exactly a 3x3 kernel layout.
            kernel = weight.reshape(weight.shape[0], feat.shape[1], 3, 3)
            table = F.conv2d(feat, kernel, first.bias, padding=1)
        else:
            table = F.conv2d(feat, weight[:, :, None, None], first.bias)
        # (B, D, h, w) → (B, h*w, D) with rows contiguous, since queries gather whole rows (no copy
        # when the conv output is already channels-last).
        rows = table.permute(0, 2, 3, 1).reshape(table.shape[0], -1, table.shape[1])
        return rows.contiguous()

    def latent_grid(self, feat: torch.Tensor) -> LatentGrid:
        """The whole (uncropped) latent grid of ``feat``."""
        return LatentGrid(self.latent_table(feat), crop_size=(feat.shape[-2], feat.shape[-1]))

    def first_layer_extra(self) -> torch.Tensor:
        """The first decoder layer's weight for its non-feature inputs: the relative coordinate
        (2 columns), then the cell (2 more with cell decoding). ``latent_table`` has the rest."""
        first = self.imnet.linears[0]
        n_extra = 2 + (2 if self.config.cell_decode else 0)
        return first.weight[:, first.weight.shape[1] - n_extra :]

    def query_rgb(self, grid: LatentGrid, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        """RGB ``(B, N, 3)`` at coordinates ``(B, N, 2)`` with cells ``(B, N, 2)``.

        The decoder core of inference and training alike: the four neighbours' table rows are
        gathered into one flat ``(S * B * N, D)`` matrix, so the rest of the MLP is plain
        matmuls, which keeps autograd's backward fast (no in-place ops on views).
        """
        cfg = self.config
        h, w = grid.full_size
        crop_h, crop_w = grid.crop_size
        batch, n_query = coord.shape[:2]
        table = grid.table.reshape(batch * crop_h * crop_w, -1)
        offset = (torch.arange(batch, device=coord.device) * (crop_h * crop_w)).view(batch, 1)
        index, rels = [], []
        for iy, ix, rel in ensemble_neighbours(coord, (h, w), cfg.local_ensemble):
            rels.append(rel)
            index.append((iy - grid.origin[0]) * crop_w + (ix - grid.origin[1]) + offset)
        rel = torch.stack(rels)  # (S, B, N, 2)
        extra = rel
        if cfg.cell_decode:
            size = torch.tensor([h, w], dtype=coord.dtype, device=coord.device)
            extra = torch.cat([rel, (cell * size).expand_as(rel)], dim=-1)
        h1 = table.index_select(0, torch.stack(index).reshape(-1))
        extra = extra.reshape(-1, extra.shape[-1]).to(h1.dtype)
        h1 = torch.addmm(h1, extra, self.first_layer_extra().t())
        preds = self.finish_mlp(h1).float().view(rel.shape[0], batch, n_query, 3)
        area = torch.abs(rel[..., 0] * rel[..., 1]) + AREA_EPS  # (S, B, N)
        return blend(preds, area) * 0.5 + 0.5

    def query_grid(
        self,
        grid: LatentGrid,
        ys: torch.Tensor,
        xs: torch.Tensor,
        cell: tuple[float, float],
        scratch: Scratch | None = None,
    ) -> torch.Tensor:
        """RGB ``(R, C, 3)`` on the grid of rows ``ys`` ``(R,)`` times columns ``xs`` ``(C,)``.

        Same result as ``query_rgb`` on the meshgrid (batch 1), but codes, relative coordinates
        and the first layer's coordinate term are found once per row and once per column.
        Inference only: with ``scratch`` the layers write into its reused buffers.
        """
        h, w = grid.full_size
        rows = axis_codes(ys, h, self.config.local_ensemble)
        cols = axis_codes(xs, w, self.config.local_ensemble)
        return self.decode_grid(grid, rows, cols, cell, scratch or Scratch())

    def decode_grid(
        self,
        grid: LatentGrid,
        rows: AxisCodes,
        cols: AxisCodes,
        cell: tuple[float, float],
        scratch: Scratch,
    ) -> torch.Tensor:
        """``query_grid`` from precomputed per-axis codes (so a caller can slice them per block)."""
        cfg = self.config
        # The coordinate and cell terms are computed in fp32 whatever the weights' type, and
        # rounded once when added to the table rows: the relative coordinate needs the precision.
        w_extra = self.first_layer_extra().float()
        w_coord = w_extra[:, :2]
        h, w = grid.full_size
        crop_w = grid.crop_size[1]
        n_rows, n_cols = len(rows), len(cols)
        row_bias = 0.0
        if cfg.cell_decode:
            w_cell = w_extra[:, 2:4]
            rel_cell = torch.tensor([cell[0] * h, cell[1] * w], device=w_cell.device)
            row_bias = w_cell @ rel_cell
        shifts = ensemble_shifts(cfg.local_ensemble)
        width = w_extra.shape[0]
        hidden = scratch.take(
            "first", (len(shifts), n_rows * n_cols, width), w_coord.device, grid.table.dtype
        )
        areas = []
        for k, (vy, vx) in enumerate(shifts):
            iy, rel_y = rows.index[vy], rows.rel[vy]
            ix, rel_x = cols.index[vx], cols.rel[vx]
            local = (iy - grid.origin[0]).unsqueeze(1) * crop_w + (ix - grid.origin[1]).unsqueeze(0)
            torch.index_select(grid.table[0], 0, local.reshape(-1), out=hidden[k])
            h1 = hidden[k].view(n_rows, n_cols, width)
            h1 += (rel_y.unsqueeze(1) * w_coord[:, 0] + row_bias).unsqueeze(1)
            h1 += (rel_x.unsqueeze(1) * w_coord[:, 1]).unsqueeze(0)
            areas.append(torch.abs(rel_y.unsqueeze(1) * rel_x.unsqueeze(0)).view(-1) + AREA_EPS)
        preds = self.finish_mlp(hidden, scratch).float()  # (S, R*C, 3)
        rgb = blend(preds, torch.stack(areas)) * 0.5 + 0.5
        return rgb.view(n_rows, n_cols, 3)

    def finish_mlp(self, h1: torch.Tensor, scratch: Scratch | None = None) -> torch.Tensor:
        """Finish the MLP from first-layer pre-activations ``(..., D)``: ``(..., 3)``.

        With ``scratch`` (inference), each layer writes into one of two reused buffers instead
        of allocating a multi-megabyte tensor per layer and block (``benchmarks/sr_speed.py``
        times both; the gain measured 0.99-1.11x).
        """
        linears = self.imnet.linears
        lead = h1.shape[:-1]
        x = torch.relu_(h1).reshape(-1, h1.shape[-1])
        for i, layer in enumerate(linears[1:-1]):
            out = None
            if scratch is not None:
                shape = (x.shape[0], layer.weight.shape[0])
                out = scratch.take(f"hidden{i % 2}", shape, x.device, x.dtype)
            x = torch.relu_(torch.addmm(layer.bias, x, layer.weight.t(), out=out))
        last = linears[-1]
        return torch.addmm(last.bias, x, last.weight.t()).view(*lead, -1)

    def forward(self, img: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        """Encode ``img`` ``(B, 3, h, w)`` and query it: ``(B, N, 3)``."""
        return self.query_rgb(self.latent_grid(self.gen_feat(img)), coord, cell)


def axis_codes(centres: torch.Tensor, n_codes: int, local_ensemble: bool) -> AxisCodes:
    """Per ensemble offset along one axis: nearest code and relative coordinate of ``centres``."""
    eps = EPS_SHIFT if local_ensemble else 0.0
    code_centres = axis_centres(n_codes).to(centres.device)
    index, rel = {}, {}
    for v in (-1, 1) if local_ensemble else (0,):
        shifted = (centres + (v / n_codes + eps)).clamp_(-1 + 1e-6, 1 - 1e-6)
        index[v] = nearest_code_index(shifted, n_codes)
        rel[v] = (centres - code_centres[index[v]]) * n_codes
    return AxisCodes(index, rel)


def blend(preds: torch.Tensor, area: torch.Tensor) -> torch.Tensor:
    """The local ensemble: neighbour predictions ``(S, ..., 3)`` weighted by the area ``(S, ...)``
    of the diagonally opposite neighbour's rectangle (shifts are ordered so that is ``flip``)."""
    weight = area.flip(0) / area.sum(dim=0, keepdim=True)
    return (preds * weight.unsqueeze(-1)).sum(dim=0)
