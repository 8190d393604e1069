"""Background training jobs that outlive the page: pid and run folder recorded in the workspace.

Streamlit reruns the page script on every click and a reload starts a new session, so a training
process cannot belong to a session. It runs in its own process group; ``studio/train_job.json``
in the workspace says which process and run folder it is, and a small shell wrapper writes the
exit code next to the log so a finished run can be told from a crashed one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from curator.progress import eta_text
from curator.workspace_layout import WorkspaceLayout
from sr.atomic import write_atomic
from sr.run_layout import checkpoint_steps, last_step, planned_steps

JOB_FILE = "train_job.json"
# "$@" is the trainer command; its exit code goes to $1 (shifted away before running it).
WRAPPER = 'exit_file="$1"; shift; "$@"; echo $? > "$exit_file"'


@dataclass(frozen=True)
class Job:
    """A training process started from the studio."""

    pid: int
    run_dir: str
    command: list[str]
    log: str
    exit_file: str
    started_at: float
    start_ticks: int  # process start time from /proc: tells our pid from a reused one
    start_step: int = 0  # the step this job began from: a resume restarts at its newest checkpoint

    def state(self) -> str:
        """``running``, ``finished``, ``failed (exit N)`` or ``stopped``."""
        if _alive(self.pid, self.start_ticks):
            return "running"
        exit_path = Path(self.exit_file)
        if exit_path.exists():
            code = exit_path.read_text().strip()
            return "finished" if code == "0" else f"failed (exit {code})"
        return "stopped"


def trainer_command(*args: str) -> list[str]:
    """``sr <args>`` run by this interpreter (no reliance on PATH)."""
    return [sys.executable, "-c", "import sys; from sr.cli import main; sys.exit(main())", *args]


def _start_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[19])  # field 22 of stat: start time in clock ticks since boot


def _alive(pid: int, start_ticks: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reaps our own child if it exited
        if finished:
            return False
    except ChildProcessError:
        pass  # not our child (the server restarted): fall back to /proc
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _start_ticks(pid) == start_ticks


def current_job(ws_root: Path) -> Job | None:
    """The last job started in this workspace, if any."""
    path = WorkspaceLayout(ws_root).studio_dir / JOB_FILE
    if not path.exists():
        return None
    return Job(**json.loads(path.read_text()))


def start_job(ws_root: Path, run_dir: Path, command: list[str]) -> Job:
    """Start ``command`` in the background (own session) and record it in the workspace."""
    job = current_job(ws_root)
    if job is not None and job.state() == "running":
        raise RuntimeError(f"a training job is already running (pid {job.pid}, {job.run_dir})")
    folder = WorkspaceLayout(ws_root).studio_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log = folder / f"train-{Path(run_dir).name}-{stamp}.log"
    exit_file = log.with_suffix(".exit")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["sh", "-c", WRAPPER, "sh", str(exit_file), *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the page and gets its own process group
        )
    job = Job(
        pid=proc.pid,
        run_dir=str(run_dir),
        command=command,
        log=str(log),
        exit_file=str(exit_file),
        started_at=time.time(),
        start_ticks=_start_ticks(proc.pid),
        start_step=max(checkpoint_steps(run_dir), default=0),
    )
    write_atomic(folder / JOB_FILE, json.dumps(asdict(job), indent=1).encode())
    return job


def stop_job(job: Job, timeout: float = 10.0) -> str:
    """SIGTERM the job's process group, SIGKILL if it lingers; returns the final state."""
    if job.state() != "running":
        return job.state()
    os.killpg(job.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while job.state() == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    if job.state() == "running":
        os.killpg(job.pid, signal.SIGKILL)
        time.sleep(0.2)
    return job.state()


def job_progress(job: Job, now: float | None = None) -> str:
    """``step 120/400 · 3:10 elapsed · about 7:30 left`` from the run's own log and config."""
    step = last_step(job.run_dir)
    planned = planned_steps(job.run_dir)
    elapsed = (time.time() if now is None else now) - job.started_at
    if planned is None:
        return f"step {step} · {eta_text(0, 0, elapsed)}"
    done, total = step - job.start_step, planned - job.start_step  # this job's share
    return f"step {step}/{planned} · {eta_text(done, total, elapsed)}"


def log_tail(job: Job, lines: int = 20) -> str:
    """The last lines of the job's log (progress bars' carriage returns turned into lines)."""
    try:
        text = Path(job.log).read_bytes()[-20_000:].decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])
