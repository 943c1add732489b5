"""Training across processes: the same run on N processes (DDP under the Trainer's accelerate; gloo on CPU,
NCCL on GPUs), the global batch equal to the one-process run's.

`run_across(job, processes, resume, echo)` starts `torch.distributed.run` with N copies of this module's
`main` on the job folder; each trains on its shard of every batch (`batch_size / N` rows), the gradients
averaged after the batch (`average_gradients`), so every step is the one-process step. Rank 0 alone writes
progress events, checkpoints and the persona; it leaves its result (or its error) in the job folder for the
job process, which echoes the progress as it comes. What stays exact (tests/test_distributed.py): the length
buckets (the sampler's buckets are of the global batch), the one-row path and post-token loss (per shard;
the loss is normalised over the post tokens of the whole global batch). Replay rows are drawn per process
(the same share of each shard's rows, not the same rows as one process).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from studio.errors import ModelError, StudioError
from studio.events import ignore


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def average_gradients(model) -> None:
    """Average the trainable parameters' gradients over the processes (gloo has no AVG: sum, then divide)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    for param in model.parameters():
        if param.requires_grad and param.grad is not None:
            dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
            param.grad.div_(dist.get_world_size())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(job_dir: Path, processes: int, resume: bool) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}", "--nnodes=1",
            "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "studio.training.distributed",
            str(job_dir)] + (["--resume"] if resume else [])


def run_across(job, processes: int, resume: bool, echo=None) -> dict:
    """Train `job` on `processes` processes; echo its progress events as they are written; return rank 0's
    result (TrainResult.to_json()). A StudioError of a rank is raised here with its message."""
    for name in ("result.json", "error.json"):
        (job.dir / name).unlink(missing_ok=True)
    seen = len(job.events())
    with open(job.dir / "log.txt", "a") as log:
        process = subprocess.Popen(command(job.dir, processes, resume), cwd=Path(__file__).resolve().parents[2],
                                   stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": os.environ.get(
                                       "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))})
    while True:
        done = process.poll() is not None
        events = job.events()
        for event in events[seen:]:
            if echo:
                echo(event)
        seen = len(events)
        if done:
            break
        time.sleep(0.5)
    if (job.dir / "error.json").is_file():
        raise ModelError(json.loads((job.dir / "error.json").read_text(encoding="utf-8"))["message"])
    if process.returncode or not (job.dir / "result.json").is_file():
        raise ModelError(f"Training on {processes} processes failed (exit {process.returncode}); see {job.dir / 'log.txt'}.")
    return json.loads((job.dir / "result.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """One rank's body: train the job's request; rank 0 emits, saves and writes result.json (or error.json)."""
    from studio.files import write_json
    from studio.training.jobs import Job, train_request

    args = sys.argv[1:] if argv is None else argv
    job = Job(Path(args[0]))
    try:
        result = train_request(job, resume="--resume" in args, emit=job.emit if is_main() else ignore)
    except StudioError as exc:
        if is_main():
            write_json(job.dir / "error.json", {"message": str(exc)})
        return 1
    if is_main():
        write_json(job.dir / "result.json", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
