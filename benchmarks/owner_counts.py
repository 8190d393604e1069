"""Issue 13's measure: plain ``git grep`` counts of the repeated patterns, at two commits.

Each pattern is a fact that should have one owner; the count is the number of lines in the
packages (``curator/``, ``sr/``, ``app.py``; tests and benchmarks excluded) that spell it out,
outside the module that owns it. Before the issue: ``3926a5f^`` (the commit before the first
change of issue 13).

    .venv/bin/python benchmarks/owner_counts.py [--before 3926a5f^] [--after HEAD]
"""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("curator", "sr", "app.py")


@dataclass(frozen=True)
class Pattern:
    """A fact, the regular expression that spells it out, and the module(s) allowed to."""

    fact: str
    regex: str
    owners: tuple[str, ...]


PATTERNS = (
    Pattern("hand-written atomic replace", r"os\.replace\(", ("sr/atomic.py",)),
    Pattern("catalog connection closed by hand", r"conn\.close\(\)", ("curator/workspace.py",)),
    Pattern(
        "image suffix list",
        r"\"\.png\",\s*\"\.jpe?g\"|'\.png',\s*'\.jpe?g'",
        ("sr/image_formats.py",),
    ),
    Pattern(
        "run file name 'best.safetensors' in code",
        r"[\"']best\.safetensors[\"']",
        ("sr/run_layout.py",),
    ),
    Pattern('workspace folder name "runs"', r"\"runs\"", ("curator/workspace_layout.py",)),
    Pattern(
        "hash turned into a split rank by hand",
        r"from_bytes\(digest\[:8\]",
        ("sr/hashed_split.py",),
    ),
    Pattern("LIIF ensemble blend (area flip)", r"\.flip\(0\)", ("sr/models/liif.py",)),
    Pattern(
        "scikit-image pictures loaded",
        r"skimage\.data\.",
        ("sr/training/skimage_pictures.py",),
    ),
    Pattern("model built without the registry", r"= LIIF\(", ("sr/models/registry.py",)),
)


def count(rev: str, pattern: Pattern) -> tuple[int, list[str]]:
    """Lines matching ``pattern`` at ``rev`` outside its owners, and where they are."""
    out = subprocess.run(
        ["git", "grep", "-n", "-E", pattern.regex, rev, "--", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    hits = []
    for line in out.splitlines():
        path = line.split(":", 2)[1]
        if path not in pattern.owners:
            hits.append(line.split(":", 1)[1])
    return len(hits), hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="3926a5f^")
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--where", action="store_true", help="list the remaining lines")
    args = parser.parse_args()
    print(f"| fact (owner) | {args.before} | {args.after} |")
    print("|---|---|---|")
    for pattern in PATTERNS:
        before, _ = count(args.before, pattern)
        after, where = count(args.after, pattern)
        owner = ", ".join(pattern.owners) or "none"
        print(f"| {pattern.fact} ({owner}) | {before} | {after} |")
        if args.where:
            for line in where:
                print(f"    {line}")


if __name__ == "__main__":
    main()
