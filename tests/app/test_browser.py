"""End to end in a real browser: `streamlit run app.py`, Debian Chromium driven by Playwright.

Box-selects two points on the map, rejects them and checks the catalog; visits every page and
saves a screenshot of each under ``test-artifacts/app/`` (``APP_TEST_OUTPUT`` overrides it).
With ``UPDATE_DOCS_SCREENSHOTS=1`` the Map, Gallery and Upscale shots are also copied to
``docs/``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from benchmarks.browser import (
    REPO,
    box_select,
    chromium_page,
    cpu_seconds,
    point_pixels,
    streamlit_process,
    streamlit_server,
    wait_idle,
)
from curator.catalog import list_images
from curator.prompts import add_prompt
from curator.shared_map import map_points
from curator.workspace import init_workspace
from sr.weights import WeightsError, resolve_weights
from tests.curator.helpers import natural, save

pytestmark = pytest.mark.browser


def _output_dir() -> Path:
    out = Path(os.environ.get("APP_TEST_OUTPUT", REPO / "test-artifacts" / "app"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _server_env(ws_root: Path, benchmarks: Path, tiny_weights: Path) -> dict[str, str]:
    env = {"CURATOR_WORKSPACE": str(ws_root), "SR_BENCHMARKS": str(benchmarks)}
    try:
        resolve_weights("official")  # real weights make the Upscale screenshot worth showing
    except WeightsError:
        env["SR_LIIF_WEIGHTS"] = str(tiny_weights)
    return env


def _shoot(page, out: Path, name: str) -> None:
    wait_idle(page)
    page.wait_for_timeout(300)  # let charts finish drawing
    page.screenshot(path=str(out / f"app-{name}.png"), full_page=True)
    assert page.get_by_text("Page not found").count() == 0, name
    assert page.get_by_text("Something went wrong").count() == 0, name


def test_browser__box_select_reject_changes_catalog_and_every_page_renders(
    mapped_ws, tiny_benchmarks, tiny_weights, tmp_path
):
    out = _output_dir()
    images = sorted((p for p in map_points(mapped_ws) if p.kind == "image"), key=lambda p: p.x)
    chosen, others = images[:2], images[2:]
    env = _server_env(mapped_ws.root, tiny_benchmarks, tiny_weights)
    picture = save(tmp_path / "astronaut.png", natural("astronaut", size=96))
    add_prompt(mapped_ws, "a studio portrait, sharp focus", negative="blurry, jpeg artifacts")

    with streamlit_server(env, out / "server.log") as url, chromium_page(height=1300) as page:
        page.goto(url)  # the default page lives at "/"
        page.get_by_text("Images", exact=True).first.wait_for()
        _shoot(page, out, "workspace")
        assert page.get_by_text("Deploy", exact=True).count() == 0  # a local tool (toolbarMode)

        page.goto(f"{url}/map")
        page.locator(".js-plotly-plot").first.wait_for()
        wait_idle(page)
        pixels = point_pixels(page, [(p.x, p.y) for p in images])
        left = min(x for x, _ in pixels) - 15
        right = (pixels[1][0] + pixels[2][0]) / 2  # between the 2nd and 3rd point from the left
        assert pixels[2][0] - pixels[1][0] > 4, "points too close to split by a box"
        top = min(y for _, y in pixels) - 15
        bottom = max(y for _, y in pixels) + 15
        box_select(page, (left, top), (right, bottom))
        page.get_by_text("Selection: 2 image(s)").wait_for()
        _shoot(page, out, "map")

        page.get_by_role("button", name="Reject").click()
        page.get_by_text("Rejected 2 image(s).").wait_for()
        rejected = {r.id for r in list_images(mapped_ws, status="rejected")}
        assert rejected == {p.id for p in chosen}
        assert all(r.status == "pending" for r in list_images(mapped_ws) if r.id not in rejected)
        assert others

        for name in ("gallery", "prompts", "train", "evaluate"):
            page.goto(f"{url}/{name}")
            page.get_by_role("heading", name=name.capitalize(), exact=True).wait_for()
            if name == "evaluate":
                page.get_by_role("button", name="Evaluate").click()
                page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
            _shoot(page, out, name)

        # the gallery's viewer by keyboard: → next image, A accepts it, Esc closes
        page.goto(f"{url}/gallery")
        first, second = list_images(mapped_ws)[:2]
        # a click while the page's first run is still going can be lost to the rerun (a CI
        # flake): wait for the page to settle first
        page.get_by_role("heading", name="Gallery", exact=True).wait_for()
        wait_idle(page)
        page.get_by_role("button", name="View").first.click()
        page.get_by_role("heading", name=f"#{first.id} ").wait_for()
        page.keyboard.press("ArrowRight")
        page.get_by_role("heading", name=f"#{second.id} ").wait_for()
        wait_idle(page)
        page.keyboard.press("a")
        deadline = time.monotonic() + 20
        while list_images(mapped_ws, status="accepted") == [] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [r.id for r in list_images(mapped_ws, status="accepted")] == [second.id]
        wait_idle(page)
        page.keyboard.press("Escape")
        page.get_by_role("heading", name=f"#{second.id} ").wait_for(state="detached")

        page.goto(f"{url}/upscale")
        field = page.get_by_label("…or an image path on this machine")
        field.fill(str(picture))
        field.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Upscale", exact=True).click()
        page.get_by_role("button", name="Download").wait_for(timeout=120_000)
        _shoot(page, out, "upscale")

        # the open workspace is in the URL, and a reload keeps it (not CURATOR_WORKSPACE)
        other = init_workspace(tmp_path / "other-ws", encoder="efficientnet-lite0")
        page.goto(f"{url}/?{urlencode({'ws': str(other.root)})}")
        page.get_by_text(f"Open: {other.root}").wait_for()
        # in-app navigation clears the query; the page writes it back
        page.get_by_role("link", name="Map", exact=True).click()
        page.get_by_role("heading", name="Map", exact=True).wait_for()
        page.wait_for_url(lambda u: parse_qs(urlsplit(u).query).get("ws") == [str(other.root)])
        page.reload()
        page.get_by_text(f"Workspace: {other.root}").wait_for()

    assert not page_errors(out / "server.log")
    for name in ("workspace", "map", "gallery", "prompts", "train", "upscale", "evaluate"):
        assert (out / f"app-{name}.png").stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        for name in ("map", "gallery", "upscale"):
            shutil.copy(out / f"app-{name}.png", REPO / "docs" / f"app-{name}.png")


def _busy(pid: int, window: float = 2.0) -> float:
    """CPU seconds per second the process used over ``window`` seconds."""
    start = cpu_seconds(pid)
    time.sleep(window)
    return (cpu_seconds(pid) - start) / window


def _wait_quiet(pid: int, timeout: float = 30.0) -> float:
    """Wait until the process is nearly idle; returns its last load (CPU seconds per second)."""
    deadline = time.monotonic() + timeout
    load = _busy(pid)
    while load > 0.15 and time.monotonic() < deadline:
        load = _busy(pid)
    return load


def _start_huge_upscale(page, url: str, picture: Path) -> None:
    """×150 of a 96 px picture (207 MP): asks for a tick, then runs for minutes."""
    page.goto(f"{url}/upscale")
    field = page.get_by_label("…or an image path on this machine")
    field.fill(str(picture))
    field.press("Enter")
    scale = page.get_by_label("Scale (e.g. 3, 1.7 or 2x1.5)")
    scale.fill("150")
    scale.press("Enter")
    page.get_by_text("Yes, make a 207 MP image").click()
    wait_idle(page)
    page.get_by_role("button", name="Upscale", exact=True).click()
    page.get_by_text("elapsed").first.wait_for(timeout=60_000)  # the bar counts blocks


def test_browser__a_long_upscale_cancels_and_stops_with_its_tab(tiny_weights, tmp_path):
    out = _output_dir() / "jobs"
    picture = save(tmp_path / "small.png", natural("astronaut", size=96))
    env = {"SR_LIIF_WEIGHTS": str(tiny_weights)}  # "official" is a tiny model: steady speed
    with streamlit_process(env, out / "server.log") as (url, server):
        with chromium_page() as page:
            _start_huge_upscale(page, url, picture)
            assert _busy(server.pid) > 0.5  # the job runs in the server
            page.get_by_role("button", name="Cancel").click()
            page.get_by_text("Upscale cancelled; nothing was written.").wait_for()
            assert _wait_quiet(server.pid) <= 0.15
            assert page.get_by_role("button", name="Download").count() == 0

            _start_huge_upscale(page, url, picture)
            assert _busy(server.pid) > 0.5
        # the browser (and with it the session) is gone: the job stops at its next block
        assert _wait_quiet(server.pid) <= 0.15
    assert not page_errors(out / "server.log")


def page_errors(log: Path) -> list[str]:
    """Tracebacks the server logged (the page shows messages; the log must stay clean)."""
    return [line for line in log.read_text().splitlines() if "Traceback" in line]
