"""Training across processes: the same run on N processes (DDP under the Trainer's accelerate; gloo on CPU,
NCCL on GPUs), the global batch equal to the one-process run's.

`run_across(job, processes, resume, echo)` starts `torch.distributed.run` with N copies of
`studio.training.rank_main` on the job folder; each trains on its shard of every batch (`batch_size / N` rows), the gradients
averaged after the batch (`studio.training.ranks.average_gradients`), so every step is the one-process step. Rank 0 alone writes
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

from studio.errors import ModelError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(job_dir: Path, processes: int, resume: bool) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}", "--nnodes=1",
            "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "studio.training.rank_main",
            str(job_dir)] + (["--resume"] if resume else [])


def run_across(job, processes: int, resume: bool, echo=None) -> dict:
    """Train `job` on `processes` processes; echo its progress events as they are written; return rank 0's
    result (TrainResult.to_json()). A StudioError of a rank is raised here with its message."""
    for name in ("result.json", "error.json"):
        (job.dir / name).unlink(missing_ok=True)
    job.clear_ranks()  # a resumed run's ranks are new processes
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
