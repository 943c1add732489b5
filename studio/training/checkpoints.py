"""The Trainer's checkpoints in a job folder. The Trainer writes a checkpoint file by file, `trainer_state.json`
last, so a run killed while saving (a cancel, a crash) leaves a folder without it: resuming from that folder
fails, so only complete ones count and a partial one is removed before a resume."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_NUMBERED = re.compile(r"^checkpoint-(\d+)$")


def _numbered(folder: Path) -> list[tuple[int, Path]]:
    if not Path(folder).is_dir():
        return []
    found = [(_NUMBERED.match(p.name), p) for p in Path(folder).iterdir() if p.is_dir()]
    return sorted((int(match.group(1)), p) for match, p in found if match)


def newest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint in `folder`, or None."""
    complete = [p for _, p in _numbered(folder) if (p / "trainer_state.json").is_file()]
    return complete[-1] if complete else None


def drop_partial_checkpoints(folder: Path) -> None:
    for _, p in _numbered(folder):
        if not (p / "trainer_state.json").is_file():
            shutil.rmtree(p, ignore_errors=True)
