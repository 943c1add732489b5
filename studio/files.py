"""Files: the one atomic write, the one staged folder, JSON-lines read/append, and the studio's time stamp.

Every file the studio writes for someone else to read (a manifest, a job's status, a model card, an
export) goes through `atomic_path`: written under a unique hidden name beside the target, flushed to
disk, then renamed over it. A reader sees the old file or the new one, never half of one, and two
writers never share a temporary file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path


def utc_now(timespec: str = "seconds") -> str:
    """The current time in UTC, ISO 8601 (what manifests, jobs and votes record)."""
    return datetime.now(timezone.utc).isoformat(timespec=timespec)


def _temp_beside(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.{kind}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; on success it is fsynced and renamed over `path`,
    on an error it is removed and `path` is left as it was. The parent folder is made if needed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(target)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data, indent: int | None = 2) -> Path:
    return write_text(path, json.dumps(data, ensure_ascii=False, indent=indent))


def jsonl_text(records) -> str:
    """Records as JSON lines (UTF-8 as written, one record a line)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_jsonl(path: str | Path, records) -> Path:
    return write_text(path, jsonl_text(records))


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one record as one line (a single write, so concurrent appenders do not interleave lines)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file; a line that is not JSON (a half-written last line) is skipped,
    and a missing file reads as no records."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


@contextlib.contextmanager
def staged_dir(target: str | Path) -> Iterator[Path]:
    """Yield a hidden, empty folder beside `target` to fill; on success it is renamed to `target` (which must
    not exist yet), on an error it is removed. A folder appears complete or not at all."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _temp_beside(target, "staging")
    staging.mkdir()
    try:
        yield staging
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

