"""Training jobs: each run in its own process, its progress in a JSON-lines file, cancel by kill, resume
from the last checkpoint. One run trains at a time; later ones wait in the queue.

    personas/.jobs/<slug>/
      request.json     name, settings, system prompt, cleaning report
      posts.jsonl      the cleaned posts chosen for training
      status.json      queued | running | done | failed | cancelled, pid, message
      progress.jsonl   one event per line, with its time (studio.events: queued, start, step, eval, ..., done)
      log.txt          the run's stderr
      checkpoints/     Trainer checkpoints (a killed run resumes from the newest)

The UI polls `progress.jsonl`, so a page reload, a second browser or the CLI all see the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from studio.clean import CleanConfig, CleanReport
from studio.training.checkpoints import newest_checkpoint
from studio.training.config import TrainConfig
from studio.config import env_count, personas_dir
from studio.errors import PersonaError
from studio.events import CANCELLED, DONE, ERROR, QUEUED, CancelledEvent, DoneEvent, ErrorEvent, Event, QueuedEvent
from studio.files import append_jsonl, read_jsonl, write_json, write_jsonl
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry, slugify

ACTIVE = ("queued", "running")
ROOT_DIR = Path(__file__).resolve().parents[2]


def jobs_dir() -> Path:
    return personas_dir() / ".jobs"


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a finished child that nobody waited for is a zombie: not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


@dataclass
class Job:
    dir: Path

    @property
    def slug(self) -> str:
        return self.dir.name

    def request(self) -> dict:
        return json.loads((self.dir / "request.json").read_text(encoding="utf-8"))

    def status(self) -> dict:
        """The recorded status; a queued or running job whose process is gone reads as 'interrupted'."""
        try:
            status = json.loads((self.dir / "status.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {"status": "unknown"}
        if status.get("status") in ACTIVE and not _alive(status.get("pid")):
            status["status"] = "interrupted"
        return status

    def set_status(self, status: str, **extra) -> None:
        write_json(self.dir / "status.json", {**self.status(), "status": status, **extra, "time": time.time()})

    def events(self) -> list[dict]:
        """Progress events so far (a half-written last line is skipped), shaped as studio.events declares."""
        return read_jsonl(self.dir / "progress.jsonl")

    def emit(self, event: Event) -> None:
        append_jsonl(self.dir / "progress.jsonl", {**event, "time": round(time.time(), 2)})

    def record_rank(self, pid: int) -> None:
        """A rank of a run across processes (studio.training.rank_main) leaves its pid for `cancel`."""
        (self.dir / "ranks").mkdir(exist_ok=True)
        (self.dir / "ranks" / f"{pid}.pid").touch()

    def rank_pids(self) -> list[int]:
        return [int(p.stem) for p in (self.dir / "ranks").glob("*.pid") if p.stem.isdigit()]

    def clear_ranks(self) -> None:
        for p in (self.dir / "ranks").glob("*.pid"):
            p.unlink(missing_ok=True)

    def resumable(self) -> bool:
        return self.status()["status"] in ("interrupted", "cancelled", "failed") and newest_checkpoint(self.dir / "checkpoints") is not None


def list_jobs() -> list[Job]:
    root = jobs_dir()
    if not root.is_dir():
        return []
    jobs = [Job(d) for d in root.iterdir() if d.is_dir() and (d / "request.json").is_file()]
    return sorted(jobs, key=lambda j: (j.dir / "request.json").stat().st_mtime)


def get_job(name: str) -> Job:
    job = Job(jobs_dir() / slugify(name))
    if not (job.dir / "request.json").is_file():
        raise PersonaError(f"No training run for {name!r}. Start one with: python -m studio train --posts FILE --name {name}")
    return job


def create_job(posts: list[Post], name: str, config: TrainConfig, clean: CleanConfig, report: CleanReport,
               system_prompt: str | None = None, overwrite: bool = False) -> Job:
    """Write a job's request; nothing runs yet (see `launch` and `run_job`)."""
    slug = PersonaRegistry().check_available(name, overwrite)
    job = Job(jobs_dir() / slug)
    if job.dir.exists():
        if job.status()["status"] in ACTIVE:
            raise PersonaError(f"{slug!r} is already training. Wait for it, or cancel it first.")
        shutil.rmtree(job.dir)
    job.dir.mkdir(parents=True)
    write_jsonl(job.dir / "posts.jsonl", (p.to_dict() for p in posts))
    write_json(job.dir / "request.json", {"name": name, "config": config.to_dict(), "clean": clean.to_dict(),
                                           "report": report.to_dict(), "system_prompt": system_prompt, "overwrite": overwrite})
    write_json(job.dir / "status.json", {"status": "queued", "pid": None, "created": time.time()})
    return job


def launch(job: Job, resume: bool = False) -> Job:
    """Run the job in a new process (its own session, so cancel kills it and its children), niced (`main`)."""
    train_niceness()  # a bad STUDIO_TRAIN_NICE is the caller's clear error, not a job dead at start
    command = [sys.executable, "-m", "studio.training.jobs", str(job.dir)] + (["--resume"] if resume else [])
    log = open(job.dir / "log.txt", "a")
    process = subprocess.Popen(command, cwd=ROOT_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "PERSONAS_DIR": str(personas_dir().resolve())})
    job.set_status("queued", pid=process.pid)
    return job


def cancel(job: Job) -> None:
    status = job.status()
    if status["status"] not in ACTIVE:
        raise PersonaError(f"{job.slug!r} is not training (it is {status['status']}).")
    for pid in [status["pid"], *job.rank_pids()]:  # the ranks of a run across processes have sessions of their own
        try:
            os.killpg(pid, signal.SIGKILL)  # a kill, not a request: nothing half-written reaches the registry
        except (ProcessLookupError, PermissionError):
            pass
    job.set_status("cancelled", message="cancelled by the user")
    job.emit(CancelledEvent(event=CANCELLED))


def run_job(job: Job, resume: bool = False, echo=None) -> None:
    """The body of a job's process: wait for the training lock, train, record the outcome."""
    from studio.errors import StudioError

    request = job.request()
    lock = FileLock(str(jobs_dir() / ".train.lock"))
    job.set_status("queued", pid=os.getpid())
    job.emit(QueuedEvent(event=QUEUED))
    with lock:
        job.set_status("running", pid=os.getpid())

        def emit(event: Event) -> None:
            job.emit(event)
            if echo:
                echo(event)

        processes = TrainConfig.from_dict(request["config"]).processes
        try:
            if processes > 1:  # the same run on N processes (studio.training.distributed)
                from studio.training.distributed import run_across

                result = run_across(job, processes, resume, echo)
            else:
                result = train_request(job, resume, emit)
        except StudioError as exc:
            job.emit(ErrorEvent(event=ERROR, message=str(exc)))
            job.set_status("failed", message=str(exc))
            raise
        except BaseException as exc:
            job.emit(ErrorEvent(event=ERROR, message=f"unexpected error: {exc!r}; see {job.dir / 'log.txt'}"))
            job.set_status("failed", message=repr(exc))
            raise
        shutil.rmtree(job.dir / "checkpoints", ignore_errors=True)  # the persona is complete; checkpoints are spent
        job.emit(DoneEvent(event=DONE, **result))
        job.set_status("done", message=f"saved persona {result['persona']}")


def train_request(job: Job, resume: bool, emit) -> dict:
    """Train the job's request in this process (one rank of several, or the only one); its result's figures."""
    from studio.training.run import train_persona

    request = job.request()
    posts = [Post.from_dict(record) for record in read_jsonl(job.dir / "posts.jsonl")]
    return train_persona(
        posts, request["name"], TrainConfig.from_dict(request["config"]), system_prompt=request["system_prompt"],
        progress=emit, overwrite=request["overwrite"], clean=CleanConfig.from_dict(request["clean"]),
        report=CleanReport.from_dict(request["report"]), checkpoint_dir=job.dir / "checkpoints", resume=resume,
    ).to_json()


TRAIN_NICE_ENV = "STUDIO_TRAIN_NICE"  # the niceness of a background training (0-19; default 10, 0 = as the app)


def train_niceness() -> int:
    return env_count(TRAIN_NICE_ENV, 10, least=0, most=19)


def main(argv: list[str] | None = None) -> int:
    """A background job's process (`launch`). It runs at a lower CPU priority (nice 10, its ranks too): on a
    machine it shares with the app, the chat a user waits on takes the cores first and the training gets the
    rest, instead of each slowing the other as equals."""
    args = sys.argv[1:] if argv is None else argv
    job = Job(Path(args[0]))
    os.nice(train_niceness())
    try:
        run_job(job, resume="--resume" in args)
    except Exception:  # recorded in status.json and progress.jsonl; the traceback goes to log.txt
        import traceback

        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
