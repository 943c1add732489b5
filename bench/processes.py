"""Training on 2 processes against 1, in the same run: the same persona (a seeded sample of a fixture's cleaned
posts, the bundled SmolLM2-135M-Instruct, TrainConfig defaults but one epoch and no evaluation) trained by
`python -m studio train`'s job path with `processes=1` (the baseline) and `processes=2` (DDP, gloo on CPU).

    flock /tmp/heavy.lock python bench/processes.py [--fixtures andre koume] [--posts 64] [--batch-size 4]

Printed per fixture and run: steps, posts/s and training seconds (timed from the first logged step to the last,
so loading and the launcher's start are left out), final loss, and the largest
per-step loss difference from the 1-process run (the whole job's time is left out: the first job on a base
model also writes its replay answers, which later jobs reuse). On 2 cores no speed-up is expected (each process gets one
core); the point is that the run on 2 processes trains the same: its loss curve stays within a few hundredths
of the 1-process curve (the global batch is the same; only float summation order differs).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = {"koume": ROOT.parent / "shared" / "fixtures" / "koume-dayuu-tweets.csv",
            "andre": ROOT.parent / "shared" / "fixtures" / "x-archive-andreruffert.zip"}


def train_once(fixture: str, processes: int, args) -> dict:
    from studio.clean import CleanConfig, clean_posts
    from studio.ingest import load_file
    from studio.persona.registry import PersonaRegistry
    from studio.training import jobs
    from studio.training.config import TrainConfig

    clean = CleanConfig(validation_fraction=0)
    posts, report = clean_posts(load_file(FIXTURES[fixture]), clean)
    posts = random.Random(0).sample(posts, min(len(posts), args.posts))
    config = TrainConfig(epochs=1, batch_size=args.batch_size, evaluate=False, eval_steps=0, probe_steps=0,
                         seed=0, processes=processes)
    name = f"{fixture}-p{processes}"
    job = jobs.create_job(posts, name, config, clean, report)
    jobs.run_job(job)
    if job.status()["status"] != "done":
        raise SystemExit(f"{name} did not finish: {job.status()}; see {job.dir / 'log.txt'}")
    steps = [e for e in job.events() if e["event"] == "step"]
    seconds = steps[-1]["elapsed_s"] - steps[0]["elapsed_s"]
    losses = PersonaRegistry().get(name).metrics["loss_history"]
    return {"steps": len(steps), "posts_s": (len(steps) - 1) * args.batch_size / seconds if seconds else float("nan"),
            "seconds": seconds, "final": losses[-1], "losses": losses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", nargs="+", default=["andre", "koume"], choices=sorted(FIXTURES))
    parser.add_argument("--posts", type=int, default=64, help="posts trained for one epoch (seeded sample)")
    parser.add_argument("--batch-size", type=int, default=4, help="the global batch (split over the processes)")
    args = parser.parse_args()
    os.environ["PERSONAS_DIR"] = tempfile.mkdtemp(prefix="bench-processes-")
    print(f"{'fixture':8} {'processes':>9} {'steps':>5} {'posts/s':>8} {'train s':>7} {'final loss':>10} "
          f"{'max |dloss|':>11} {'speed vs 1':>10}")
    for fixture in args.fixtures:
        one = train_once(fixture, 1, args)
        two = train_once(fixture, 2, args)
        gap = max(abs(a - b) for a, b in zip(one["losses"], two["losses"]))
        for processes, r in ((1, one), (2, two)):
            print(f"{fixture:8} {processes:>9} {r['steps']:>5} {r['posts_s']:>8.2f} {r['seconds']:>7.1f} {r['final']:>10.4f} "
                  f"{(gap if processes == 2 else 0.0):>11.4f} {r['posts_s'] / one['posts_s']:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
