"""Map page latency in a real browser: box selection → Streamlit rerun finished, at 10,000 points.

    .venv/bin/python benchmarks/app_latency.py [--points 10000] [--selections 30]

Builds a workspace of ``--points`` images (64 real pictures ingested with the curator, the rest
catalog rows that reuse their files, as a large workspace's catalog looks to the map page), places
them on the map in clusters, starts ``streamlit run app.py`` and drives Debian Chromium. Each
selection is a box drag over a new region; the time runs from the mouse-up event to the first
DOM state in which the script has finished its rerun and the page shows the new selection count
(both read in the browser with ``performance.now()``). The boxes are dragged twice: the first
pass ("cold") includes making the selection's thumbnails, the second ("warm") finds them on disk.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.browser import (  # noqa: E402
    chromium_page,
    point_pixels,
    streamlit_server,
    wait_idle,
)
from curator.ingest import ingest_paths  # noqa: E402
from curator.workspace import init_workspace  # noqa: E402

BASE_IMAGES = 64
SELECTION_TEXT_JS = """() => ([...document.querySelectorAll('h3')]
    .map(h => h.textContent).find(t => t.startsWith('Selection:')) || '')"""

WATCH_JS = """() => {
    window.__marks = [];
    const app = document.querySelector('[data-testid="stApp"]');
    const note = () => {
        const heads = [...document.querySelectorAll('h3')].map(h => h.textContent);
        const sel = heads.find(t => t.startsWith('Selection:')) || '';
        window.__marks.push({t: performance.now(),
                             state: app.getAttribute('data-test-script-state'), sel});
    };
    new MutationObserver(note).observe(document.body,
        {subtree: true, childList: true, attributes: true, characterData: true});
    document.addEventListener('mouseup', () => { window.__mouseup = performance.now(); }, true);
}"""


def build_workspace(root: Path, points: int, seed: int = 0) -> Path:
    """Ingest ``BASE_IMAGES`` pictures, then catalog rows up to ``points``, all on the map."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pictures = root / "pictures"
    pictures.mkdir(parents=True)
    for i in range(BASE_IMAGES):
        small = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((128, 128), Image.BICUBIC).save(pictures / f"p{i:03d}.png")
    ws = init_workspace(root / "ws", encoder="efficientnet-lite0")
    ingest_paths(ws, [pictures])
    centres = rng.normal(0, 6, size=(8, 2))
    cluster = rng.integers(0, len(centres), size=points)
    xy = centres[cluster] + rng.normal(0, 1, size=(points, 2))
    with ws.transaction() as conn:
        base = [r[0] for r in conn.execute("SELECT id FROM images ORDER BY id")]
        columns = [r[1] for r in conn.execute("PRAGMA table_info(images)") if r[1] != "id"]
        copied = ", ".join(c if c != "content_hash" else "content_hash || ?" for c in columns)
        clone = (
            f"INSERT INTO images ({', '.join(columns)}) SELECT {copied} FROM images WHERE id = ?"
        )
        for i in range(points - len(base)):
            conn.execute(clone, (f"-copy{i}", base[i % len(base)]))
        ids = [r[0] for r in conn.execute("SELECT id FROM images ORDER BY id")]
        sources = rng.choice(["original", "generated"], size=len(ids), p=[0.4, 0.6])
        statuses = rng.choice(["pending", "accepted", "rejected"], size=len(ids), p=[0.6, 0.3, 0.1])
        conn.executemany(
            "UPDATE images SET source = ?, round = ?, status = ? WHERE id = ?",
            [
                (str(s), 0 if s == "original" else int(rng.integers(1, 4)), str(st), i)
                for i, s, st in zip(ids, sources, statuses, strict=True)
            ],
        )
        conn.executemany(
            "INSERT INTO map_coords (kind, item_id, x, y, fit_id)"
            " VALUES ('image', ?, ?, ?, 'bench')",
            [(i, float(x), float(y)) for i, (x, y) in zip(ids, xy, strict=True)],
        )
    return ws.root


def measure(
    url: str, coords: np.ndarray, selections: int, seed: int, screenshot: Path | None = None
) -> list[dict]:
    """Box-select ``selections`` regions; returns one record (latency, counts) per selection."""
    rng = np.random.default_rng(seed)
    results = []
    with chromium_page(width=1400, height=1100) as page:
        page.goto(f"{url}/map")
        page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        wait_idle(page)
        page.wait_for_timeout(500)
        pixels = np.array(point_pixels(page, coords.tolist()))
        page.locator(".js-plotly-plot").first.hover()
        page.locator('.modebar-btn[data-val="select"]').first.click()
        page.evaluate(WATCH_JS)
        boxes = _boxes(pixels, selections, rng)
        for pass_name in ("cold", "warm"):  # warm: same boxes again, thumbnails now on disk
            for a, b, expected in boxes:
                record = _select(page, a, b, expected)
                results.append({**record, "pass": pass_name})
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
    return results


def _boxes(pixels: np.ndarray, count: int, rng: np.random.Generator) -> list:
    """Boxes around random points; each count differs clearly from the one before (cyclically)."""
    lo, hi = pixels.min(axis=0), pixels.max(axis=0)
    boxes: list = []
    while len(boxes) < count:
        size = rng.uniform(0.04, 0.12, size=2) * (hi - lo)
        a = pixels[rng.integers(len(pixels))] - size / 2
        b = a + size
        n = int(np.all((pixels >= a) & (pixels <= b), axis=1).sum())
        last = boxes[-1][2] if boxes else 0
        closes = len(boxes) == count - 1 and abs(n - boxes[0][2]) <= 30
        if abs(n - last) > 30 and not closes:
            boxes.append((a, b, n))
    return boxes


def _select(page, a: np.ndarray, b: np.ndarray, expected: int) -> dict:
    """Drag one box; wait for the finished rerun that shows the new selection; time it."""
    before = page.evaluate(SELECTION_TEXT_JS)
    page.evaluate("() => { window.__marks = []; }")
    page.mouse.move(*a)
    page.mouse.down()
    for t in np.linspace(0.2, 1.0, 5):
        page.mouse.move(*(a + t * (b - a)))
    page.mouse.up()
    start = time.monotonic()
    while True:
        marks = page.evaluate("() => window.__marks")
        t0 = page.evaluate("() => window.__mouseup")
        ran = [m for m in marks if m["t"] >= t0 and m["state"] == "running"]
        done = [
            m for m in marks
            if ran and m["t"] >= ran[0]["t"] and m["state"] == "notRunning"
            and m["sel"].startswith("Selection:") and m["sel"] != before
        ]  # fmt: skip
        if done:
            shown = int(done[0]["sel"].split()[1])
            latency = (done[0]["t"] - t0) / 1000
            break
        if time.monotonic() - start > 60:
            raise RuntimeError(f"no finished rerun with a new selection ({expected}) in 60 s")
        time.sleep(0.02)
    wait_idle(page)
    return {"latency_s": latency, "selected": shown, "expected": expected}


def main(argv: list[str] | None = None) -> int:
    """Build, serve, measure, print p50/p95."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--selections", type=int, default=20, help="boxes (each dragged twice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the records as JSON too")
    parser.add_argument("--screenshot", type=Path, help="save the page after the last selection")
    args = parser.parse_args(argv)
    from curator.shared_map import map_points
    from curator.workspace import open_workspace

    with tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        root = build_workspace(Path(tmp), args.points, args.seed)
        print(f"workspace with {args.points} points built in {time.monotonic() - t:.1f} s")
        points = [p for p in map_points(open_workspace(root)) if p.kind == "image"]
        coords = np.array([(p.x, p.y) for p in points])
        with streamlit_server({"CURATOR_WORKSPACE": str(root)}, Path(tmp) / "server.log") as url:
            records = measure(url, coords, args.selections, args.seed, args.screenshot)
    sizes = np.array([r["selected"] for r in records])
    off = np.abs(sizes - np.array([r["expected"] for r in records]))
    print(f"map points: {len(points)}; {args.selections} boxes, each selected twice (median "
          f"{np.median(sizes):.0f} images, {sizes.min()}–{sizes.max()}; off from the points "
          f"inside the dragged box by {off.mean():.1f} on average)")  # fmt: skip
    print("selection → rerun finished (browser clock), seconds:")
    print(f"  {'pass':<26} {'p50':>6} {'p95':>6} {'max':>6}")
    for name, label in (("cold", "cold (thumbnails made)"), ("warm", "warm (thumbnails on disk)")):
        lat = np.array([r["latency_s"] for r in records if r["pass"] == name])
        print(f"  {label:<26} {np.percentile(lat, 50):6.3f} {np.percentile(lat, 95):6.3f} "
              f"{lat.max():6.3f}")  # fmt: skip
    print("  goal: p95 ≤ 1 s")
    if args.json:
        print(json.dumps(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
