"""The density picture puts each group's points at their pixel in their colour."""

from __future__ import annotations

import numpy as np

from curator.map_density import density_image


def test_density_image__points_land_on_their_pixels_in_their_colours() -> None:
    x = np.array([2.5, 2.5, 7.5])
    y = np.array([7.5, 7.5, 2.5])
    groups = np.array([0, 0, 1])
    picture = density_image(x, y, groups, ["#ff0000", "#0000ff"], (0, 10), (0, 10), 10, 10)
    pixels = np.asarray(picture.convert("RGBA")).astype(int)
    assert pixels.shape == (10, 10, 4)
    # row 0 is the top of the window: y = 7.5 is row 2, y = 2.5 is row 7
    red, blue = pixels[2, 2], pixels[7, 7]
    assert red[3] > 0 and red[0] > 200 and red[2] < 50
    assert blue[3] > 0 and blue[2] > 200 and blue[0] < 50
    # far from both points nothing is drawn
    assert pixels[0, 9, 3] == 0 and pixels[9, 0, 3] == 0 and pixels[5, 5, 3] == 0
