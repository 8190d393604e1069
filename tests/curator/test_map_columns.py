"""The map's points as columns: same content as ``map_points``, re-read only where it changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curator.catalog import SOURCES, STATUSES, Provenance, set_provenance
from curator.curation import accept, reject, undo_last
from curator.embeddings import embed_images
from curator.ingest import ingest_paths
from curator.map_columns import NO_PROMPT, box_polygon, inside, map_columns
from curator.shared_map import map_points, update_map
from curator.workspace import Workspace


def _as_points(columns) -> dict[int, tuple]:
    """The columns back as ``{id: (x, y, source, round, status, prompt_id, flags)}``."""
    out = {}
    for k, image_id in enumerate(columns.ids.tolist()):
        flags = tuple(
            name for bit, name in enumerate(columns.flag_names) if int(columns.flags[k]) >> bit & 1
        )
        prompt = int(columns.prompt_id[k])
        out[image_id] = (
            float(columns.x[k]), float(columns.y[k]), SOURCES[columns.source[k]],
            int(columns.round[k]), STATUSES[columns.status[k]],
            None if prompt == NO_PROMPT else prompt, flags,
        )  # fmt: skip
    return out


def _expected(ws: Workspace) -> dict[int, tuple]:
    return {
        p.id: (p.x, p.y, p.source, p.round, p.status, p.prompt_id, tuple(sorted(p.flags)))
        for p in map_points(ws)
        if p.kind == "image"
    }


def _varied(ws: Workspace, tmp_path: Path) -> list[int]:
    """Rejects, accepts, a generated round with a prompt, and flagged images on the map."""
    small = tmp_path / "small"
    small.mkdir()
    for k in range(3):  # too small to train on: ingest flags them
        Image.new("RGB", (20 + k, 20), (40 * k, 90, 200)).save(small / f"s{k}.png")
    added = ingest_paths(ws, [small]).added
    set_provenance(ws, added[:2], Provenance(source="generated", round=2, prompt_id=1))
    embed_images(ws)
    update_map(ws)
    reject(ws, [1, 2, added[0]], reason="test")
    accept(ws, [3, 4])
    return added


def test_map_columns__same_points_as_map_points(mapped_ws: Workspace, tmp_path: Path) -> None:
    _varied(mapped_ws, tmp_path)
    columns = map_columns(mapped_ws)
    expected = _expected(mapped_ws)
    assert _as_points(columns) == expected
    assert any(point[-1] for point in expected.values())  # flags are part of the comparison
    assert {p[4] for p in expected.values()} == {"pending", "accepted", "rejected"}
    prompts = {p.id: (p.x, p.y) for p in map_points(mapped_ws) if p.kind == "prompt"}
    got = zip(columns.prompt_ids.tolist(), columns.prompt_x, columns.prompt_y, strict=True)
    assert {i: (x, y) for i, x, y in got} == prompts


def test_map_columns__status_change_rereads_only_the_state(
    mapped_ws: Workspace, tmp_path: Path
) -> None:
    first = map_columns(mapped_ws)
    reject(mapped_ws, [5, 6], reason="blurry")
    second = map_columns(mapped_ws, first)
    assert second.x is first.x and second.ids is first.ids  # the placed part was reused
    assert _as_points(second) == _expected(mapped_ws)
    undo_last(mapped_ws)
    third = map_columns(mapped_ws, second)
    assert third.x is first.x and not (third.status == STATUSES.index("rejected")).any()


def test_map_columns__new_points_and_provenance_reread_the_placed_part(
    mapped_ws: Workspace, tmp_path: Path
) -> None:
    first = map_columns(mapped_ws)
    added = _varied(mapped_ws, tmp_path)  # places new images, sets provenance
    second = map_columns(mapped_ws, first)
    assert second.x is not first.x and set(added) <= set(second.ids.tolist())
    assert _as_points(second) == _expected(mapped_ws)
    set_provenance(mapped_ws, [7], Provenance(source="augmented", round=5))
    third = map_columns(mapped_ws, second)
    assert _as_points(third)[7][2:4] == ("augmented", 5)


def _filter_plainly(points, filters: dict) -> list[int]:
    """The map page's filters, point by point: round/source/status in the lists, the flag."""
    return sorted(
        p.id
        for p in points
        if p.kind == "image"
        and all(
            not filters.get(f) or getattr(p, f) in filters[f] for f in ("round", "source", "status")
        )
        and (not filters.get("flag") or filters["flag"] in p.flags)
    )


def test_mask__matches_a_plain_filter(mapped_ws: Workspace, tmp_path: Path) -> None:
    _varied(mapped_ws, tmp_path)
    columns = map_columns(mapped_ws)
    points = map_points(mapped_ws)
    flag = columns.flag_names[0]
    for filters in (
        {},
        {"status": ["rejected"]},
        {"status": ["pending", "accepted"], "source": ["original"]},
        {"round": [2]},
        {"flag": flag},
        {"flag": flag, "status": ["pending"]},
        {"source": ["augmented"]},
    ):
        expected = _filter_plainly(points, filters)
        assert columns.ids[columns.mask(filters)].tolist() == expected, filters


def _inside_plainly(x: float, y: float, polygon: list[tuple[float, float]]) -> bool:
    """Even-odd ray casting, one point at a time."""
    result = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            result = not result
    return result


def test_inside__lasso_and_box_against_plain_ray_casting(mapped_ws: Workspace) -> None:
    columns = map_columns(mapped_ws)
    cx, cy = float(np.median(columns.x)), float(np.median(columns.y))
    span = float(np.ptp(columns.x))
    lasso = [(cx - span, cy - span), (cx + span / 3, cy - span / 5), (cx, cy + span)]
    box = box_polygon((cx + span, cx - span / 4), (cy - span, cy + span / 4))
    for polygon in (lasso, box):
        got = inside(columns, polygon)
        plain = [_inside_plainly(x, y, polygon) for x, y in zip(columns.x, columns.y, strict=True)]
        assert got.tolist() == plain
        assert 0 < got.sum() < len(columns)  # the shapes cut the map, so the test can fail
    assert not inside(columns, [(0.0, 0.0), (1.0, 1.0)]).any()  # no area, nothing inside


@pytest.mark.parametrize("share", [1, 10**9], ids=["from-events", "whole-read"])
def test_map_columns__statuses_from_the_event_log_equal_a_fresh_read(
    mapped_ws: Workspace, share: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curator import map_columns as module
    from curator.curation import accept_all_pending, reject_each

    # share 1: every change is read from the event log; 10**9: every change re-reads all
    monkeypatch.setattr(module, "FULL_READ_SHARE", share)

    columns = map_columns(mapped_ws)
    steps = (
        lambda: reject(mapped_ws, [1, 2, 3], reason="a"),
        lambda: reject_each(mapped_ws, {4: "watermark", 5: "blurry"}),
        lambda: accept(mapped_ws, [2, 6]),
        lambda: undo_last(mapped_ws),
        lambda: accept_all_pending(mapped_ws),
        lambda: undo_last(mapped_ws),
        lambda: undo_last(mapped_ws),
    )
    for step in steps:
        step()
        updated = map_columns(mapped_ws, columns)
        assert updated.x is columns.x  # placed part reused: statuses came from the events
        fresh = map_columns(mapped_ws, use_copy=False)  # everything from the catalog
        assert updated.status.tolist() == fresh.status.tolist()
        assert updated.event_id > columns.event_id
        columns = updated
    assert len(set(columns.status.tolist())) > 1  # the sequence left more than one status


def _placed_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the catalog reads of the placed part (the expensive one)."""
    from curator import map_columns as module

    calls: list[int] = []
    real = module._read_placed

    def counting(cursor, key):
        calls.append(1)
        return real(cursor, key)

    monkeypatch.setattr(module, "_read_placed", counting)
    return calls


def test_map_columns__a_new_process_starts_from_the_saved_copy(
    mapped_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curator.map_columns import SAVED_NAME

    _varied(mapped_ws, tmp_path)
    reads = _placed_reads(monkeypatch)
    map_columns(mapped_ws)
    assert reads == [1] and (mapped_ws.map_dir / SAVED_NAME).is_file()
    # no previous in memory, as in a new process: the saved copy stands in for it
    assert _as_points(map_columns(mapped_ws)) == _expected(mapped_ws)
    reject(mapped_ws, [7, 8], reason="later")
    undo_last(mapped_ws)
    accept(mapped_ws, [9])
    assert _as_points(map_columns(mapped_ws)) == _expected(mapped_ws)
    assert reads == [1]  # the placed part came from the copy, the statuses from the events


def test_map_columns__a_copy_of_other_points_is_not_used(
    mapped_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    map_columns(mapped_ws)
    reads = _placed_reads(monkeypatch)
    _varied(mapped_ws, tmp_path)  # new points placed: a new map version
    assert _as_points(map_columns(mapped_ws)) == _expected(mapped_ws)
    assert reads == [1]


def _backup(ws: Workspace) -> Path:
    """A copy of the catalog as it is now (SQLite's ``VACUUM INTO``)."""
    backup = ws.root.parent / "backup.sqlite"
    with ws.session() as conn:
        conn.execute("VACUUM INTO ?", (str(backup),))
    return backup


def _restore(ws: Workspace, backup: Path) -> None:
    """Put a catalog backup back as docs/curator.md says (its write-ahead log files removed)."""
    import shutil

    from curator.workspace import wait_for_checkpoints

    wait_for_checkpoints()
    for suffix in ("-wal", "-shm"):
        Path(str(ws.db_path) + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, ws.db_path)


def test_map_columns__a_copy_from_another_history_of_the_catalog_is_not_used(
    mapped_ws: Workspace,
) -> None:
    """A catalog restored from a backup can reach the copy's event number with other events."""
    from curator.map_columns import SAVED_NAME

    reject(mapped_ws, [1], reason="before the backup")
    backup = _backup(mapped_ws)
    reject(mapped_ws, [2, 3, 4], reason="lost with the restore")
    (mapped_ws.map_dir / SAVED_NAME).unlink(missing_ok=True)
    saved = map_columns(mapped_ws)  # a whole read: saved with the rejects above
    _restore(mapped_ws, backup)
    accept(mapped_ws, [5])  # now as many events as the copy's history, but other ones
    columns = map_columns(mapped_ws)
    assert columns.event_id == saved.event_id
    assert _as_points(columns) == _expected(mapped_ws)
    assert _as_points(columns)[2][4] == "pending"


def test_map_columns__unreadable_copy_is_read_again_and_readonly_saves_nothing(
    mapped_ws: Workspace,
) -> None:
    from dataclasses import replace

    from curator.map_columns import SAVED_NAME

    path = mapped_ws.map_dir / SAVED_NAME
    readonly = replace(mapped_ws, readonly=True)
    assert _as_points(map_columns(readonly)) == _expected(mapped_ws)
    assert not path.exists()
    path.write_bytes(b"not a numpy archive")
    assert _as_points(map_columns(mapped_ws)) == _expected(mapped_ws)
    with np.load(path) as saved:  # saved again
        assert saved["ids"].tolist() == sorted(_expected(mapped_ws))


def test_map_columns__a_catalog_restored_and_mapped_again_does_not_take_the_copy(
    mapped_ws: Workspace,
) -> None:
    """Same version count, same events: only the map write's random token tells them apart."""
    from dataclasses import replace

    def refit(seed: int) -> None:
        config = replace(mapped_ws.config, map=replace(mapped_ws.config.map, seed=seed))
        update_map(replace(mapped_ws, config=config), refit=True)

    backup = _backup(mapped_ws)
    refit(1)
    first = map_columns(mapped_ws)  # saved: the points of the seed-1 fit
    _restore(mapped_ws, backup)
    refit(2)
    columns = map_columns(mapped_ws)
    assert _as_points(columns) == _expected(mapped_ws)
    assert not np.array_equal(columns.x, first.x)


@pytest.mark.parametrize(
    "damage",
    ["empty", "plain-npy", "about-a-list", "no-event-id", "other-format", "other-statuses",
     "wrong-dtype", "lengths-differ", "huge-event-id"],
)  # fmt: skip
def test_map_columns__a_damaged_or_foreign_copy_is_read_again(
    mapped_ws: Workspace, damage: str
) -> None:
    import json

    from curator.map_columns import SAVED_FORMAT, SAVED_NAME

    path = mapped_ws.map_dir / SAVED_NAME
    map_columns(mapped_ws)
    with np.load(path) as saved:
        arrays = {name: saved[name] for name in saved.files}
    about = json.loads(str(arrays["about"][()]))
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "plain-npy":
        with open(path, "wb") as handle:
            np.save(handle, arrays["ids"])
    else:
        if damage == "about-a-list":
            about = [about]
        elif damage == "no-event-id":
            del about["event_id"]
        elif damage == "other-format":
            about["format"] += 1
        elif damage == "other-statuses":  # a version that ordered the statuses otherwise
            about["statuses"] = list(reversed(about["statuses"]))
            arrays["status"] = (len(STATUSES) - 1 - arrays["status"]).astype(np.int8)
        elif damage == "huge-event-id":
            about["event_id"] = 2**70
        elif damage == "wrong-dtype":
            arrays["status"] = arrays["status"].astype(np.float32)
        elif damage == "lengths-differ":
            arrays["x"] = arrays["x"][:-1]
        arrays["about"] = np.array(json.dumps(about))
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
    reject(mapped_ws, [3], reason="after the copy")
    columns = map_columns(mapped_ws)
    assert _as_points(columns) == _expected(mapped_ws)
    with np.load(path) as saved:  # not taken, and replaced by a sound copy
        written = json.loads(str(saved["about"][()]))
    assert written["format"] == SAVED_FORMAT and written["statuses"] == list(STATUSES)
    assert written["event_id"] == columns.event_id


@pytest.mark.parametrize("bytes_per_point", [40, 0], ids=["few-events", "events-too-large"])
def test_map_columns__a_copy_far_behind_is_brought_up_to_date_whole_and_saved(
    mapped_ws: Workspace, bytes_per_point: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from curator import map_columns as module

    monkeypatch.setattr(module, "EVENT_BYTES_PER_POINT", bytes_per_point)
    saved_at = map_columns(mapped_ws).event_id
    reject(mapped_ws, [4], reason="later")  # one of 24 points: within FULL_READ_SHARE
    reads = _placed_reads(monkeypatch)
    columns = map_columns(mapped_ws)  # a new process: starts from the copy
    assert _as_points(columns) == _expected(mapped_ws) and reads == []
    with np.load(mapped_ws.map_dir / module.SAVED_NAME) as saved:
        copy_at = json.loads(str(saved["about"][()]))["event_id"]
    if bytes_per_point:  # a few small events: replayed, and the copy left as it was
        assert copy_at == saved_at < columns.event_id
    else:  # too many bytes of events since the copy: statuses read whole, the copy saved again
        assert copy_at == columns.event_id


def test_map_columns__temp_files_of_killed_saves_are_swept(mapped_ws: Workspace) -> None:
    import os
    import time

    from curator.map_columns import SAVED_NAME, STALE_TEMP_S
    from sr.atomic import TEMP_PREFIX

    mapped_ws.map_dir.mkdir(exist_ok=True)
    stale = mapped_ws.map_dir / f"{TEMP_PREFIX}abc-{SAVED_NAME}"
    fresh = mapped_ws.map_dir / f"{TEMP_PREFIX}def-{SAVED_NAME}"  # another process, writing now
    other = mapped_ws.map_dir / f"{TEMP_PREFIX}ghi"  # not ours to judge
    for path in (stale, fresh, other):
        path.write_bytes(b"partial")
    old = time.time() - STALE_TEMP_S - 10
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    map_columns(mapped_ws)
    assert not stale.exists() and fresh.exists() and other.exists()
    assert (mapped_ws.map_dir / SAVED_NAME).is_file()
