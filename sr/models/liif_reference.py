"""The LIIF decoder exactly as the paper describes it, one step per sentence.

Slow on purpose: it unfolds the whole feature map and builds a 580-wide MLP input for every query
and every neighbour. Tests and benchmarks use it as the independent reference for
``LIIF.query_rgb``; nothing on the hot path calls it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sr.coords import make_coord
from sr.models.liif import AREA_EPS, EPS_SHIFT, LIIF


def reference_query_rgb(
    model: LIIF, feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor
) -> torch.Tensor:
    """RGB ``(B, N, 3)`` in [0, 1] at ``coord`` ``(B, N, 2)`` from ``feat`` ``(B, C, h, w)``."""
    cfg = model.config
    batch, channels, h, w = feat.shape
    if cfg.feat_unfold:
        feat = F.unfold(feat, 3, padding=1).view(batch, channels * 9, h, w)
    feat_coord = make_coord((h, w), flatten=False).to(feat.device)
    feat_coord = feat_coord.permute(2, 0, 1).unsqueeze(0).expand(batch, 2, h, w)
    if cfg.local_ensemble:
        shifts, eps = [(-1, -1), (-1, 1), (1, -1), (1, 1)], EPS_SHIFT
    else:
        shifts, eps = [(0, 0)], 0.0
    radius_y, radius_x = 1 / h, 1 / w

    preds, areas = [], []
    for vy, vx in shifts:
        shifted = coord.clone()
        shifted[:, :, 0] += vy * radius_y + eps
        shifted[:, :, 1] += vx * radius_x + eps
        shifted.clamp_(-1 + 1e-6, 1 - 1e-6)
        sample_at = shifted.flip(-1).unsqueeze(1)  # grid_sample takes (x, y)
        q_feat = F.grid_sample(feat, sample_at, mode="nearest", align_corners=False)
        q_feat = q_feat[:, :, 0, :].permute(0, 2, 1)
        q_coord = F.grid_sample(feat_coord, sample_at, mode="nearest", align_corners=False)
        q_coord = q_coord[:, :, 0, :].permute(0, 2, 1)
        rel_coord = coord - q_coord
        rel_coord[:, :, 0] *= h
        rel_coord[:, :, 1] *= w
        inp = torch.cat([q_feat, rel_coord], dim=-1)
        if cfg.cell_decode:
            rel_cell = cell.clone()
            rel_cell[:, :, 0] *= h
            rel_cell[:, :, 1] *= w
            inp = torch.cat([inp, rel_cell], dim=-1)
        n_query = coord.shape[1]
        preds.append(model.imnet(inp.view(batch * n_query, -1)).view(batch, n_query, -1))
        areas.append(torch.abs(rel_coord[:, :, 0] * rel_coord[:, :, 1]) + AREA_EPS)

    total = torch.stack(areas).sum(dim=0)
    if cfg.local_ensemble:
        areas = areas[::-1]  # each code is weighted by the area of the diagonally opposite one
    out = 0
    for pred, area in zip(preds, areas, strict=True):
        out = out + pred * (area / total).unsqueeze(-1)
    return out * 0.5 + 0.5


def reference_batched_predict(
    model: LIIF, img: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor, chunk: int = 30000
) -> torch.Tensor:
    """Encode once, then decode ``chunk`` queries at a time, as the official evaluation does."""
    with torch.no_grad():
        feat = model.gen_feat(img)
        parts = [
            reference_query_rgb(model, feat, coord[:, i : i + chunk], cell[:, i : i + chunk])
            for i in range(0, coord.shape[1], chunk)
        ]
    return torch.cat(parts, dim=1)
