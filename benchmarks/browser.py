"""Browser helpers: `streamlit run app.py` on a free port, Debian Chromium via Playwright.

Used by ``benchmarks/app_latency.py`` and ``tests/app/test_browser.py`` (benchmarks never import
tests).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str], log: Path, timeout: float = 90) -> Iterator[str]:
    """Start ``streamlit run app.py`` headless on a free port; yield its URL; stop it after."""
    with streamlit_process(env, log, timeout) as (url, _):
        yield url


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@contextmanager
def streamlit_process(
    env: dict[str, str], log: Path, timeout: float = 90
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``streamlit_server`` that also yields the server process (to watch what it does)."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--client.showErrorDetails", "none",
    ]  # fmt: skip
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start; see {log}")
                time.sleep(0.3)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000) -> Iterator:
    """A Playwright page in headless Debian Chromium (no download of Playwright's own browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def wait_idle(page, timeout_ms: float = 60_000) -> None:
    """Wait until the app's script run is over (Streamlit marks it on the root element)."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms
    )


def point_pixels(page, xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Page pixel positions of data points ``(x, y)`` on the first plotly chart."""
    return page.evaluate(
        """(xy) => {
            const gd = document.querySelector('.js-plotly-plot');
            const box = gd.getBoundingClientRect();
            const L = gd._fullLayout;
            return xy.map(([x, y]) => [
                box.left + L._size.l + L.xaxis.l2p(x), box.top + L._size.t + L.yaxis.l2p(y)
            ]);
        }""",
        [list(p) for p in xy],
    )


def box_select(page, corner_a: tuple[float, float], corner_b: tuple[float, float]) -> None:
    """Switch the chart to box select and drag from ``corner_a`` to ``corner_b`` (page pixels)."""
    chart = page.locator(".js-plotly-plot").first
    chart.hover()
    page.locator('.modebar-btn[data-val="select"]').first.click()
    page.mouse.move(*corner_a)
    page.mouse.down()
    steps = 8
    for i in range(1, steps + 1):
        t = i / steps
        page.mouse.move(
            corner_a[0] + t * (corner_b[0] - corner_a[0]),
            corner_a[1] + t * (corner_b[1] - corner_a[1]),
        )
    page.mouse.up()
