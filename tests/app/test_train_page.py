"""Train page: a background job that outlives the session, live metrics, stop and resume.

The trainer itself is replaced by a small script with the same interface (its own tests are in
tests/sr); what is tested here is the page's process handling and what it shows.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from curator.studio import jobs
from curator.studio.train_page import metrics_frame
from curator.workspace import init_workspace

FAKE_TRAINER = """
import sys, time
from pathlib import Path
args = sys.argv[1:]
run = Path(args[args.index("--out") + 1] if "--out" in args else args[args.index("--resume") + 1])
(run / "checkpoints").mkdir(parents=True, exist_ok=True)
(run / "checkpoints" / "last.safetensors").write_bytes(b"")
(run / "log.csv").write_text("step,loss,lr\\n1,0.5,1e-4\\n2,0.4,1e-4\\n")
(run / "val.csv").write_text("step,psnr_x2,psnr_x4\\n2,30.5,25.1\\n")
(run / "config.yaml").write_text("max_steps: 10\\n")
time.sleep(60)
"""


def _page():
    from curator.studio.feedback import friendly_errors
    from curator.studio.state import init_state
    from curator.studio.train_page import render

    init_state()
    with friendly_errors():
        render()


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    ws = init_workspace(tmp_path / "ws")
    export = ws.root / "exports" / "20260101-000000"
    export.mkdir(parents=True)
    (export / "train").mkdir()
    (export / "train" / "metadata.jsonl").write_text("")
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    monkeypatch.setattr(
        "curator.studio.train_page.trainer_command",
        lambda *args: [sys.executable, str(script), *args],
    )
    monkeypatch.setenv("CURATOR_WORKSPACE", str(ws.root))
    yield ws
    job = jobs.current_job(ws.root)
    if job is not None:
        jobs.stop_job(job)


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_train_page__job_survives_a_new_session_then_stop_and_resume(workspace):
    at = AppTest.from_function(_page, default_timeout=30).run()
    at.text_input(key="train_run_name").input("r1")
    at.radio(key="train_init").set_value("none")
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error
    job = jobs.current_job(workspace.root)
    run = workspace.root / "runs" / "r1"
    assert job.run_dir == str(run) and job.state() == "running"
    assert job.command[-9:] == [
        "train", "--data", str(workspace.root / "exports" / "20260101-000000"),
        "--out", str(run), "--init", "none",  # no --max-steps: the recipe's own
        "--config", "finetune-domain",  # the page's default recipe
    ]  # fmt: skip
    _wait_for(lambda: metrics_frame(run) is not None)

    fresh = AppTest.from_function(_page, default_timeout=30).run()  # a page reload
    assert not fresh.exception
    assert "running" in fresh.subheader[-1].value
    # a second start is not offered while one trains (it used to be a RuntimeError)
    assert fresh.button(key="train_start").disabled
    assert "is training: stop it below" in fresh.info[0].value
    assert len(fresh.get("plotly_chart")) == 2  # loss and PSNR curves from the CSV
    assert any(c.value.startswith("step 2/10 · ") for c in fresh.caption)  # and where it is
    # the reload kept the form's choices (the run name is new: a run folder is never reused)
    assert fresh.radio(key="train_init").value == "none"
    assert fresh.selectbox(key="train_recipe").value == "finetune-domain"
    fresh.button(key="train_stop").click().run()
    assert jobs.current_job(workspace.root).state() == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(job.pid, 0)

    fresh.button(key="train_resume").click().run()
    resumed = jobs.current_job(workspace.root)
    assert resumed.pid != job.pid and resumed.state() == "running"
    assert resumed.command[-3:] == ["train", "--resume", str(run)]


def test_train_page__official_init_without_weights_is_a_message(workspace, monkeypatch):
    monkeypatch.setenv("SR_LIIF_WEIGHTS", str(workspace.root / "missing.safetensors"))
    at = AppTest.from_function(_page, default_timeout=30).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert "sr weights fetch" in at.error[0].value
    assert jobs.current_job(workspace.root) is None


def test_job_state__exit_code_recorded(tmp_path):
    ok = jobs.start_job(tmp_path, tmp_path / "run", [sys.executable, "-c", "pass"])
    _wait_for(lambda: ok.state() != "running")
    assert ok.state() == "finished"
    bad = jobs.start_job(tmp_path, tmp_path / "run", [sys.executable, "-c", "print('x'); exit(3)"])
    _wait_for(lambda: bad.state() != "running")
    assert bad.state() == "failed (exit 3)" and jobs.log_tail(bad) == "x"


def test_metrics_frame__joins_loss_and_validation_on_step(tmp_path):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert metrics_frame(tmp_path) is None
    (tmp_path / "log.csv").write_text("step,loss\n1,0.3\n2,0.2\n")
    (tmp_path / "val.csv").write_text("step,psnr_x2\n2,31.0\n")
    frame = metrics_frame(tmp_path)
    assert list(frame["step"]) == [1, 2] and list(frame["loss"]) == [0.3, 0.2]
    assert frame["psnr_x2"].isna().tolist() == [True, False] and frame["psnr_x2"][1] == 31.0


def test_train_page__export_and_real_sr_train_to_the_end(small_ws, tmp_path, monkeypatch):
    from curator.curation import accept_all_pending
    from sr.training.config import ValConfig, dump_config
    from tests.sr.train_helpers import tiny_train_config

    accept_all_pending(small_ws)
    config = tmp_path / "tiny.yaml"
    val = ValConfig(every=2, scales=(2.0,), crop=24, max_images=1, at_start=False)
    config.write_text(dump_config(tiny_train_config(val=val)))
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.number_input(key="train_val_fraction").set_value(0.5)
    at.button(key="train_export").click().run()
    assert not at.exception and not at.error
    export = Path(at.session_state["train_data"])
    assert (export / "train" / "metadata.jsonl").exists()

    assert at.selectbox(key="train_data_pick").value == str(export)
    at.text_input(key="train_run_name").input("real")
    at.radio(key="train_init").set_value("none")
    at.number_input(key="train_steps").set_value(4)
    assert at.selectbox(key="train_recipe").value == "finetune-domain"  # offered by name
    at.selectbox(key="train_recipe").set_value("custom YAML file…").run()
    at.text_input(key="train_config").input(str(config))
    at.button(key="train_start").click().run()
    job = jobs.current_job(small_ws.root)
    _wait_for(lambda: job.state() != "running", timeout=180)
    assert job.state() == "finished", jobs.log_tail(job)
    assert "not writable" not in Path(job.log).read_text()  # no NumPy warning in the log

    frame = metrics_frame(Path(job.run_dir))
    assert list(frame["step"]) == [1, 2, 3, 4] and frame["loss"].notna().all()
    assert frame["psnr_x2"].notna().sum() == 2  # validated at steps 2 and 4
    fresh = AppTest.from_function(_page, default_timeout=30).run()
    assert "finished" in fresh.subheader[-1].value
    assert len(fresh.get("plotly_chart")) == 2


def test_train_page__named_recipe_is_passed_to_sr_train(small_ws, monkeypatch):
    from curator.curation import accept_all_pending

    started = []
    monkeypatch.setattr(
        "curator.studio.train_page.start_job", lambda root, run, cmd: started.append(cmd)
    )
    accept_all_pending(small_ws)
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.button(key="train_export").click().run()
    assert "finetune-domain" in at.selectbox(key="train_recipe").options
    at.selectbox(key="train_recipe").set_value("finetune-domain")
    at.button(key="train_start").click().run()
    assert not at.exception
    (command,) = started
    assert command[command.index("--config") + 1] == "finetune-domain"


def test_job__a_resume_starts_from_the_newest_checkpoint_not_the_last_logged_step(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for step in (200, 400):
        for suffix in (".safetensors", ".state.pt"):
            (run / "checkpoints" / f"step-{step:07d}{suffix}").write_bytes(b"")
    (run / "log.csv").write_text("step,loss\n400,0.3\n410,0.2\n490,0.2\n")  # stopped at 490
    job = jobs.start_job(tmp_path / "ws1", run, [sys.executable, "-c", "pass"])
    assert job.start_step == 400
    fresh = jobs.start_job(tmp_path / "ws2", tmp_path / "new-run", [sys.executable, "-c", "pass"])
    assert fresh.start_step == 0


def test_job_progress__step_of_planned_and_eta_for_this_jobs_share(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("step,loss\n100,0.3\n150,0.2\n")
    job = jobs.Job(1, str(run), [], "", "", started_at=1000.0, start_ticks=0, start_step=100)
    assert jobs.job_progress(job, now=1060.0) == "step 150 · 1:00 elapsed"  # no config yet
    (run / "config.yaml").write_text("max_steps: 300\n")
    # a resume from step 100: 50 of its 200 steps in 60 s, so 150 more take 180 s
    assert jobs.job_progress(job, now=1060.0) == "step 150/300 · 1:00 elapsed · about 3:00 left"


def test_train_page__reload_restores_a_typed_folder_and_custom_config(workspace, tmp_path):
    folder, config = tmp_path / "my-images", tmp_path / "mine.yaml"
    folder.mkdir()
    at = AppTest.from_function(_page, default_timeout=30).run()
    at.selectbox(key="train_data_pick").set_value("Other folder…").run()
    at.text_input(key="train_data_path").input(str(folder))
    at.number_input(key="train_steps").set_value(7)
    at.selectbox(key="train_recipe").set_value("custom YAML file…").run()
    at.text_input(key="train_config").input(str(config))
    at.button(key="train_start").click().run()
    assert not at.exception and jobs.current_job(workspace.root).state() == "running"

    fresh = AppTest.from_function(_page, default_timeout=30).run()
    assert fresh.selectbox(key="train_data_pick").value == "Other folder…"
    assert fresh.text_input(key="train_data_path").value == str(folder)
    assert fresh.number_input(key="train_steps").value == 7
    assert fresh.selectbox(key="train_recipe").value == "custom YAML file…"
    assert fresh.text_input(key="train_config").value == str(config)
