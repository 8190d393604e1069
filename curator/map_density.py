"""The map drawn as a density picture (datashader), for more points than a browser should get.

Each pixel counts the points that fall in it, per colour group; datashader mixes the groups'
colours by their counts and spreads isolated points to a few pixels so that none vanishes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image


def density_image(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    colors: Sequence[str],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    width: int = 800,
    height: int = 600,
) -> Image.Image:
    """An RGBA picture of the points in the window: group ``k`` in ``colors[k]``, empty pixels
    transparent; row 0 is the top of the window (``y_range[1]``)."""
    import datashader as ds  # imported here: only maps of many points need it (~1 s to import)
    import datashader.transfer_functions as tf
    import pandas as pd

    names = [str(k) for k in range(len(colors))]
    frame = pd.DataFrame(
        {"x": x, "y": y, "group": pd.Categorical.from_codes(groups.astype(np.int64), names)}
    )
    canvas = ds.Canvas(plot_width=width, plot_height=height, x_range=x_range, y_range=y_range)
    counts = canvas.points(frame, "x", "y", agg=ds.count_cat("group"))
    # eq_hist: dense cores and lone points both stay visible; min_alpha keeps single points seen
    picture = tf.shade(counts, color_key=dict(zip(names, colors, strict=True)), how="eq_hist",
                       min_alpha=90)  # fmt: skip
    return tf.dynspread(picture, threshold=0.5, max_px=2).to_pil()
