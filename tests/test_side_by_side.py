"""benchmarks/side_by_side.py: table rows read from a script's output, best over rounds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.side_by_side import best, table_rows, worst

OUTPUT = """1000000 rows built in 84 s
query                                               seconds  goal ≤ 0.2 s
summary (counts by status, source, round, flag)       0.163  met
  its checkpoint, in the background after it          0.300  missed
  cold                             0.580  0.620  0.700
x4 speed-up                               1.52x  3.1e-05
tiny                                      3.1e-05  2
  goal: p95 ≤ 1 s at 10k/100k points
"""


def test_table_rows__labels_and_their_numbers_only() -> None:
    assert table_rows(OUTPUT) == {
        "summary (counts by status, source, round, flag)": [0.163],
        "its checkpoint, in the background after it": [0.3],
        "cold": [0.58, 0.62, 0.7],
        "tiny": [3.1e-05, 2.0],
    }


def test_best__lowest_per_column_over_the_rounds_that_printed_it() -> None:
    rounds = [{"a": [2.0, 5.0]}, {"a": [3.0, 1.0], "b": [9.0]}, {}]
    assert best(rounds, "a") == [2.0, 1.0]
    assert best(rounds, "b") == [9.0]
    assert best(rounds, "c") is None
    assert worst(rounds, "a") == [3.0, 5.0]


def test_side_by_side__runs_a_script_at_two_commits(tmp_path: Path) -> None:
    """End to end on a throwaway repository: the rows of both commits, matched by label."""
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    script = repo / "benchmarks" / "fake.py"

    def commit(seconds: float) -> None:
        script.write_text(f"print('time of the thing   {seconds}')\n")
        subprocess.run(["git", "-C", repo, "add", "."], check=True)
        subprocess.run(
            ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
            check=True,
        )

    subprocess.run(["git", "init", "-q", repo], check=True)
    commit(2.0)
    commit(0.5)
    tool = Path(__file__).resolve().parents[1] / "benchmarks" / "side_by_side.py"
    done = subprocess.run(
        [sys.executable, tool, "--repo", repo, "--base", "HEAD~1", "--rounds", "2", "fake.py"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    row = next(line for line in done.stdout.splitlines() if line.startswith("time of the thing"))
    assert row.split()[-5:] == ["2.000", "(2.000)", "0.500", "(0.500)", "0.25"]
    assert done.stdout.count("round ") == 4
