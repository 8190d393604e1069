"""One benchmark at two commits, rounds interleaved: its timings side by side, and their ratio.

    .venv/bin/python benchmarks/side_by_side.py --base REV [--head REV] [--rounds 2] \\
        SCRIPT [SCRIPT ARGS...]
    e.g. benchmarks/side_by_side.py --base 8e210de catalog_scale.py --rows 1000000

This shared machine's speed moves by 2x between runs, so a before/after comparison made on two
occasions says little. Here each round runs ``benchmarks/SCRIPT`` once at each commit (git
worktrees, this venv, each tree first on ``PYTHONPATH``), in fresh processes, one right after the
other, and the order alternates from round to round. Every script here prints its results as
table rows: a label (not starting with a digit), two or more spaces, then plain numbers
(seconds), each followed by a space or the line's end. Rows are matched by label; for
each number the best (lowest) and, in brackets, the worst over the rounds are printed for both
commits, with the ratio of the best (head / base).
A row that only one commit prints (a measurement the other lacks) says so in the other column.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.same_outputs import ROOT, worktree  # noqa: E402

# a label, 2+ spaces, then the numbers (and perhaps a word such as "met" after them)
# a number stands alone (whitespace or the end after it): "1.52x" or "3 s" are not read as 1 or 3
NUMBER = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\S)"
LABEL = r"\S(?:\S| (?! ))*"  # words with single spaces between them
ROW = re.compile(rf"^\s*(?P<label>{LABEL})\s{{2,}}(?P<numbers>{NUMBER}(?:\s+{NUMBER})*)")


def table_rows(output: str) -> dict[str, list[float]]:
    """The numbers of each table row of a script's output, by label (first row of a label wins)."""
    rows: dict[str, list[float]] = {}
    for line in output.splitlines():
        match = ROW.match(line)
        if match and not match["label"][0].isdigit():
            rows.setdefault(match["label"], [float(n) for n in match["numbers"].split()])
    return rows


def run_script(tree: Path, script: str, argv: list[str]) -> str:
    """``python benchmarks/SCRIPT argv`` with ``tree``'s code: its stdout (exits on an error)."""
    argv_s = [sys.executable, str(tree / "benchmarks" / script), *argv]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(argv_s, capture_output=True, text=True, cwd=tree, env=env)
    if done.returncode != 0:
        sys.exit(f"failed in {tree}: {' '.join(argv_s)}\n{done.stderr[-2000:]}")
    return done.stdout


def best(rounds: list[dict[str, list[float]]], label: str) -> list[float] | None:
    """Per column, the lowest value of ``label`` over the rounds (None if never printed)."""
    return _per_column(rounds, label, min)


def worst(rounds: list[dict[str, list[float]]], label: str) -> list[float] | None:
    """Per column, the highest value of ``label`` over the rounds (None if never printed)."""
    return _per_column(rounds, label, max)


def _per_column(rounds, label, pick) -> list[float] | None:
    seen = [r[label] for r in rounds if label in r]
    if not seen:
        return None
    width = min(len(values) for values in seen)
    return [pick(values[k] for values in seen) for k in range(width)]


def main() -> None:
    """Run both commits round by round, then print the rows side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit before the change")
    parser.add_argument("--head", default="HEAD")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the git repository (this one)")
    parser.add_argument("script", help="a script in benchmarks/, e.g. catalog_scale.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    args = parser.parse_args()
    revs = [subprocess.check_output(["git", "-C", args.repo, "rev-parse", r], text=True).strip()
            for r in (args.base, args.head)]  # fmt: skip
    if revs[0] == revs[1]:
        sys.exit(f"error: --base {args.base} and --head {args.head} are the same commit")
    names = {revs[0]: f"base {args.base}", revs[1]: f"head {args.head}"}
    results: dict[str, list[dict[str, list[float]]]] = {rev: [] for rev in revs}
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp:
        trees: dict[str, Path] = {}
        try:
            for rev in revs:
                trees[rev] = worktree(rev, Path(tmp), args.repo)
            for round_no in range(args.rounds):
                order = revs if round_no % 2 == 0 else revs[::-1]  # drift hits both alike
                for rev in order:
                    start = time.monotonic()
                    output = run_script(trees[rev], args.script, args.args)
                    results[rev].append(table_rows(output))
                    print(f"round {round_no + 1}, {names[rev]}: {time.monotonic() - start:.0f} s",
                          flush=True)  # fmt: skip
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", args.repo, "worktree", "remove", "--force", tree])
    labels = list(dict.fromkeys(label for rev in revs[::-1] for r in results[rev] for label in r))
    print(f"\n{args.script} {' '.join(args.args)}: {args.rounds} interleaved rounds, best (worst)")
    print(f"{'row':<52} {names[revs[0]]:>20} {names[revs[1]]:>20}  best head / base")
    for label in labels:
        sides = [(best(results[rev], label), worst(results[rev], label)) for rev in revs]
        width = max(len(low or []) for low, _ in sides)
        for k in range(width):
            cells = [_cell(low, high, k) for low, high in sides]
            b, h = (low[k] if low and k < len(low) else None for low, _ in sides)
            ratio = f"{h / b:.2f}" if b and h is not None else "-"
            print(f"{(label if k == 0 else '')[:52]:<52} {cells[0]} {cells[1]}  {ratio}")


def _cell(low: list[float] | None, high: list[float] | None, k: int) -> str:
    if not low or k >= len(low) or high is None:
        return f"{'(not printed)':>20}"
    return f"{f'{low[k]:.3f} ({high[k]:.3f})':>20}"


if __name__ == "__main__":
    main()
