"""One rank of a run on several processes, as `torch.distributed.run` starts it (studio.training.distributed):
`python -m studio.training.rank_main JOB_DIR [--resume]`."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

from studio.errors import StudioError
from studio.events import ignore
from studio.training.ranks import is_main


def die_with_launcher() -> None:
    """torch.distributed.run starts each rank in a session of its own, so cancelling the job (a SIGKILL of the
    job's process group, launcher included) would leave the ranks training: on Linux a rank is killed when its
    launcher dies (PR_SET_PDEATHSIG); elsewhere the job's `cancel` kills the ranks recorded in ranks/."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the launcher died before the line above
            os._exit(1)


def main(argv: list[str] | None = None) -> int:
    """One rank's body: train the job's request; rank 0 emits, saves and writes result.json (or error.json)."""
    from studio.files import write_json
    from studio.training.jobs import Job, train_request

    args = sys.argv[1:] if argv is None else argv
    job = Job(Path(args[0]))
    die_with_launcher()
    job.record_rank(os.getpid())
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
