"""Map page latency in a real browser: box selection → rerun finished, then Reject and Undo.

    .venv/bin/python benchmarks/app_latency.py [--points 10000] [--selections 20] [--reject]

Builds a workspace of ``--points`` images (64 real pictures ingested with the curator, the rest
catalog rows that reuse their files, as a large workspace's catalog looks to the map page), places
them on the map in clusters, starts ``streamlit run app.py`` and drives Debian Chromium. Each
selection is a box drag over a new region; the time runs from the mouse-up event to the first
DOM state in which the script has finished its rerun and the page shows the new selection count
(both read in the browser with ``performance.now()``). The boxes are dragged twice: the first
pass ("cold") includes making the selection's thumbnails, the second ("warm") finds them on disk.
With ``--reject`` each selection is then rejected with the page's Reject button and the reject
undone with Undo, each timed from its click to the finished rerun (at 100k and 1M points the
map is drawn as density, and the box is resolved on the server over every point).
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
from curator.map_columns import mark_map_written  # noqa: E402
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
    sources = rng.choice(["original", "generated"], size=points, p=[0.4, 0.6])
    statuses = rng.choice(["pending", "accepted", "rejected"], size=points, p=[0.6, 0.3, 0.1])
    rounds = np.where(sources == "original", 0, rng.integers(1, 4, size=points))
    with ws.transaction() as conn:
        names = [r[1] for r in conn.execute("PRAGMA table_info(images)")]
        base = conn.execute("SELECT * FROM images ORDER BY id").fetchall()
        at = {name: k for k, name in enumerate(names)}

        def row(i: int) -> tuple:  # a copy of a real picture's row (same file), its own hash
            values = list(base[i % len(base)])
            values[at["id"]] = i + 1
            values[at["content_hash"]] = f"{values[at['content_hash']]}-copy{i}"
            values[at["source"]] = str(sources[i])
            values[at["round"]] = int(rounds[i])
            return tuple(values)

        conn.executemany(
            "UPDATE images SET source = ?, round = ? WHERE id = ?",
            [(str(sources[i]), int(rounds[i]), i + 1) for i in range(len(base))],
        )
        marks = ", ".join("?" * len(names))
        copies = (row(i) for i in range(len(base), points))
        conn.executemany(f"INSERT INTO images VALUES ({marks})", copies)
        conn.executemany(
            "UPDATE image_status SET status = ? WHERE image_id = ?",
            ((str(s), i + 1) for i, s in enumerate(statuses) if s != "pending"),
        )
        conn.executemany(
            "INSERT INTO map_coords (kind, item_id, x, y, fit_id)"
            " VALUES ('image', ?, ?, ?, 'bench')",
            ((i + 1, float(x), float(y)) for i, (x, y) in enumerate(xy)),
        )
        mark_map_written(conn)  # as curator.shared_map does when it places points
    return ws.root


def measure(
    url: str,
    coords: np.ndarray,
    selections: int,
    seed: int,
    screenshot: Path | None = None,
    reject: bool = False,
) -> list[dict]:
    """Box-select ``selections`` regions (and reject and undo each); one record per selection."""
    rng = np.random.default_rng(seed)
    results = []
    with chromium_page(width=1400, height=1100) as page:
        page.goto(f"{url}/map")
        page.locator(".js-plotly-plot").first.wait_for(timeout=300_000)
        wait_idle(page)
        page.wait_for_timeout(500)
        pixels = _pixels(page, coords)
        _box_tool(page)
        page.evaluate(WATCH_JS)
        boxes = _boxes(pixels, selections, rng)
        for pass_name in ("cold", "warm"):  # warm: same boxes again, thumbnails now on disk
            for a, b, expected in boxes:
                record = _select(page, a, b, expected)
                if reject:
                    record["reject_s"] = _click(page, "Reject", "Selection: 0 image(s)")
                    record["undo_s"] = _click(page, "Undo", None)
                    _box_tool(page)  # Reject cleared the selection with a new chart: lasso again
                results.append({**record, "pass": pass_name})
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
    return results


def _box_tool(page) -> None:
    page.locator(".js-plotly-plot").first.hover()
    page.locator('.modebar-btn[data-val="select"]').first.click()


def _pixels(page, coords: np.ndarray) -> np.ndarray:
    """Page pixels of every point: the axes are linear, so three points fix the mapping."""
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    ref = np.array([lo, [hi[0], lo[1]], [lo[0], hi[1]]])
    px = np.array(point_pixels(page, ref.tolist()))
    scale = np.array(
        [(px[1, 0] - px[0, 0]) / (hi[0] - lo[0]), (px[2, 1] - px[0, 1]) / (hi[1] - lo[1])]
    )
    return px[0] + (coords - lo) * scale


def _click(page, button: str, selection: str | None) -> float:
    """Click a button of the selection panel; seconds from the click to the finished rerun
    (that shows ``selection`` when given)."""
    page.evaluate("() => { window.__marks = []; }")
    page.get_by_role("button", name=button, exact=True).click()
    return _finished_rerun(
        page, lambda m: selection is None or m["sel"] == selection, changed=selection is not None
    )


def _finished_rerun(page, shows, changed: bool = False) -> float:
    """Seconds from the last mouse-up to the first finished rerun whose page ``shows(mark)``.

    ``changed``: what ``shows`` looks for can only appear after a rerun, so a rerun too quick
    for the page observer to see it running still counts.
    """
    start = time.monotonic()
    while True:
        marks = page.evaluate("() => window.__marks")
        t0 = page.evaluate("() => window.__mouseup")
        ran = [m["t"] for m in marks if m["t"] >= t0 and m["state"] == "running"]
        since = ran[0] if ran else (t0 if changed else None)
        done = [
            m for m in marks
            if since is not None and m["t"] >= since and m["state"] == "notRunning" and shows(m)
        ]  # fmt: skip
        if done:
            wait_idle(page)
            return (done[0]["t"] - t0) / 1000
        if time.monotonic() - start > 120:
            raise RuntimeError(f"no finished rerun in 120 s; last page states: {marks[-5:]}")
        time.sleep(0.02)


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
    latency = _finished_rerun(
        page, lambda m: m["sel"].startswith("Selection:") and m["sel"] != before, changed=True
    )
    shown = int(page.evaluate(SELECTION_TEXT_JS).split()[1])
    return {"latency_s": latency, "selected": shown, "expected": expected}


def main(argv: list[str] | None = None) -> int:
    """Build, serve, measure, print p50/p95."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--selections", type=int, default=20, help="boxes (each dragged twice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the records as JSON too")
    parser.add_argument("--screenshot", type=Path, help="save the page after the last selection")
    parser.add_argument("--reject", action="store_true", help="reject and undo each selection")
    args = parser.parse_args(argv)
    from curator.map_columns import map_columns
    from curator.workspace import open_workspace

    with tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        root = build_workspace(Path(tmp), args.points, args.seed)
        print(f"workspace with {args.points} points built in {time.monotonic() - t:.1f} s")
        columns = map_columns(open_workspace(root))
        coords = np.column_stack([columns.x, columns.y])
        with streamlit_server({"CURATOR_WORKSPACE": str(root)}, Path(tmp) / "server.log") as url:
            records = measure(url, coords, args.selections, args.seed, args.screenshot, args.reject)
    sizes = np.array([r["selected"] for r in records])
    off = np.abs(sizes - np.array([r["expected"] for r in records]))
    print(f"map points: {len(coords)}; {args.selections} boxes, each selected twice (median "
          f"{np.median(sizes):.0f} images, {sizes.min()}–{sizes.max()}; off from the points "
          f"inside the dragged box by {off.mean():.1f} on average)")  # fmt: skip
    print("selection → rerun finished (browser clock), seconds:")
    print(f"  {'pass':<30} {'p50':>6} {'p95':>6} {'max':>6}")
    for name, label in (("cold", "cold (thumbnails made)"), ("warm", "warm (thumbnails on disk)")):
        lat = np.array([r["latency_s"] for r in records if r["pass"] == name])
        print(f"  {label:<30} {np.percentile(lat, 50):6.3f} {np.percentile(lat, 95):6.3f} "
              f"{lat.max():6.3f}")  # fmt: skip
    if args.reject:
        for name in ("cold", "warm"):
            chosen = [r for r in records if r["pass"] == name]
            for label, key in (
                ("reject click → rerun", "reject_s"),
                ("undo click → rerun", "undo_s"),
            ):
                lat = np.array([r[key] for r in chosen])
                print(f"  {label + f' ({name})':<30} {np.percentile(lat, 50):6.3f} "
                      f"{np.percentile(lat, 95):6.3f} {lat.max():6.3f}")  # fmt: skip
            both = np.array([r["latency_s"] + r["reject_s"] for r in chosen])
            print(f"  {f'select + reject ({name})':<30} {np.percentile(both, 50):6.3f} "
                  f"{np.percentile(both, 95):6.3f} {both.max():6.3f}")  # fmt: skip
    print("  goal: p95 ≤ 1 s at 10k/100k points, ≤ 1.5 s at 1M (selection → reject → rerun)")
    if args.json:
        print(json.dumps(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
