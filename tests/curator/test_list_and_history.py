"""`curator list` filters (several flags, no flags), order and pages; `curator history`."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from curator.catalog import list_images
from curator.cli import main
from curator.curation import accept, reject, undo_last
from curator.errors import CuratorError
from curator.events import describe_event, history
from curator.ingest import ingest_paths
from tests.curator.helpers import natural, save


@pytest.fixture
def flagged_ws(ws, tmp_path: Path):
    """Three clean 256² pictures, one blurred copy (blurry) and one 64² picture (too_small)."""
    folder = tmp_path / "in"
    for k, name in enumerate(("astronaut", "chelsea", "coffee")):
        save(folder / f"{k}-{name}.png", natural(name, 256))
    save(folder / "3-blurred.png", cv2.GaussianBlur(natural("rocket", 256), (0, 0), 4))
    save(folder / "4-small.png", natural("astronaut", 64, offset=30))
    ingest_paths(ws, [folder])
    return ws


def _names(records) -> list[str]:
    return [Path(r.original_name).name for r in records]


def test_list_images__any_of_several_flags_and_no_flags(flagged_ws) -> None:
    flags = {Path(r.original_name).name: set(r.flags) for r in list_images(flagged_ws)}
    assert "blurry" in flags["3-blurred.png"] and "too_small" in flags["4-small.png"]
    either = list_images(flagged_ws, flag=["blurry", "too_small"])
    assert _names(either) == [n for n, f in flags.items() if f & {"blurry", "too_small"}]
    assert set(_names(either)) >= {"3-blurred.png", "4-small.png"}
    clean = list_images(flagged_ws, no_flags=True)
    assert _names(clean) == [n for n, f in flags.items() if not f]
    assert not set(_names(clean)) & set(_names(either))
    # counted as all minus the flagged: the same numbers as the lists, with other filters too
    from curator.catalog import count_images
    from curator.curation import reject

    reject(flagged_ws, [clean[0].id, either[0].id])
    for status in (None, "pending", "rejected", "accepted"):
        listed = list_images(flagged_ws, no_flags=True, status=status)
        assert count_images(flagged_ws, no_flags=True, status=status) == len(listed)
    assert count_images(flagged_ws, no_flags=True, status="rejected") == 1
    with pytest.raises(CuratorError, match="not both"):
        list_images(flagged_ws, flag="blurry", no_flags=True)


def test_list_images__sorted_and_paged(flagged_ws) -> None:
    everything = list_images(flagged_ws)
    assert [r.id for r in list_images(flagged_ws, sort="newest")] == [
        r.id for r in reversed(everything)
    ]
    by_pixels = list_images(flagged_ws, sort="pixels")
    assert _names(by_pixels)[-1] == "4-small.png"  # the fewest pixels last
    pages = [list_images(flagged_ws, limit=2, offset=o) for o in (0, 2, 4)]
    assert [r.id for page in pages for r in page] == [r.id for r in everything]
    assert [len(p) for p in pages] == [2, 2, 1]
    with pytest.raises(CuratorError, match="unknown sort"):
        list_images(flagged_ws, sort="colour")


def test_curator_list__cli_flags(flagged_ws, capsys) -> None:
    root = str(flagged_ws.root)
    argv = ["list", root, "--flag", "blurry", "--flag", "too_small", "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {Path(r["original_name"]).name for r in rows} >= {"3-blurred.png", "4-small.png"}
    assert main(["list", root, "--no-flags", "--sort", "name", "--limit", "1", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["flags"] == {} and Path(row["original_name"]).name == "0-astronaut.png"


def test_history__newest_first_and_described(flagged_ws, capsys) -> None:
    ids = [r.id for r in list_images(flagged_ws)]
    reject(flagged_ws, ids[3:5], reason="flagged")
    accept(flagged_ws, ids[:2])
    undo_last(flagged_ws)
    events = history(flagged_ws, limit=3)
    assert [e.action for e in events] == ["undo", "accept", "reject"]
    assert describe_event(events[2]) == f"rejected #{ids[3]}, #{ids[4]} (flagged)"
    assert describe_event(events[1]) == f"accepted #{ids[0]}, #{ids[1]}"
    assert describe_event(events[0]) == f"undid event {events[1].id}: #{ids[0]}, #{ids[1]}"
    assert main(["history", str(flagged_ws.root), "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "undo" in lines[0] and "(flagged)" in lines[2]
    assert main(["history", str(flagged_ws.root), "--json", "--limit", "1"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["action"] == "undo" and row["payload"]["ids"] == ids[:2]


def test_bulk__accept_clean_and_reject_flagged_touch_pending_only(flagged_ws, capsys) -> None:
    from curator.curation import accept_clean, reject_flagged

    records = {Path(r.original_name).name: r for r in list_images(flagged_ws)}
    decided = records["0-astronaut.png"]
    reject(flagged_ws, [decided.id], reason="my call")  # a decision bulk actions must keep
    assert reject_flagged(flagged_ws, ["blurry"]) == 1
    blurred = list_images(flagged_ws, status="rejected", flag="blurry")
    assert _names(blurred) == ["3-blurred.png"]
    assert blurred[0].status_reason.startswith("flagged: ") and "blurry" in blurred[0].status_reason
    assert main(["reject", str(flagged_ws.root), "--flagged"]) == 0
    assert "rejected 1 image(s)" in capsys.readouterr().out  # the small one, still pending
    clean = [n for n, r in records.items() if not r.flags and r.id != decided.id]
    assert accept_clean(flagged_ws) == len(clean)
    assert _names(list_images(flagged_ws, status="accepted")) == clean
    statuses = {Path(r.original_name).name: r.status for r in list_images(flagged_ws)}
    assert statuses["0-astronaut.png"] == "rejected" and statuses["4-small.png"] == "rejected"
    assert list_images(flagged_ws, status="pending") == []
    undo_last(flagged_ws)  # one event per bulk action: undo brings them back
    assert {r.id for r in list_images(flagged_ws, status="pending")} == {
        records[n].id for n in clean
    }


def test_bulk__cli_refuses_ambiguous_arguments(flagged_ws, capsys) -> None:
    root = str(flagged_ws.root)
    assert main(["accept", root, "1", "--clean"]) == 2
    assert main(["reject", root]) == 2
    assert main(["reject", root, "1", "--flag", "blurry"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and all(e.startswith("error: ") for e in errors)


def test_ids_text__first_ten_then_an_ellipsis_and_the_count_when_asked() -> None:
    from curator.events import ids_text

    assert ids_text([3, 5]) == "#3, #5"
    many = list(range(1, 13))
    assert ids_text(many) == ", ".join(f"#{i}" for i in range(1, 11)) + " …"
    assert ids_text(many, total=True).endswith("#10 … (12 in all)")
