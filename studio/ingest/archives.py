"""Read chosen members of a zip or tar archive into memory, safely.

Exports (X archives, Mastodon backups) hold gigabytes of media beside a few MB of posts, so only
members picked by exact name are read, in memory, never extracted to disk. Member names that
would escape a folder (`../x`, `/etc/x`) are refused, and the bytes read are capped in total and
against their compressed size, so a zip bomb stops early instead of filling memory.
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable

from studio.errors import InputError

MAX_READ_BYTES = 500 * 1024 * 1024
"""Uncompressed bytes read from one archive, all chosen members together."""
MAX_RATIO = 200
"""A member bigger than RATIO_MIN_BYTES that grew more than this from its compressed size is a bomb."""
RATIO_MIN_BYTES = 10 * 1024 * 1024
CHUNK = 1024 * 1024

_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
_TAR_ERRORS = (tarfile.TarError, zlib.error, EOFError, OSError)


def is_zip(head: bytes) -> bool:
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def is_gzip(head: bytes) -> bool:
    return head.startswith(b"\x1f\x8b")


def is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


def is_unsafe_name(name: str) -> bool:
    """True for a member name that is absolute or climbs out of the archive's folder."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    return path.is_absolute() or name[1:3] == ":/" or ".." in path.parts


def _damaged(path: Path, exc: Exception | None = None) -> InputError:
    detail = f" ({exc})" if exc and str(exc) else ""
    return InputError(f"{path.name} is damaged or truncated; export it again, or download it again{detail}.")


def _check_safe(path: Path, name: str) -> None:
    if is_unsafe_name(name):
        raise InputError(f"{path.name}: the member {name!r} points outside the archive, which a real export never does. "
                         "Refusing it: export the archive again.")


def _bomb(path: Path, name: str, why: str) -> InputError:
    return InputError(f"{path.name}: {name} {why}, which is not what an export holds (a 'zip bomb'?). "
                      "Upload the export as downloaded, or only its posts file.")


class _Budget:
    """Counts the bytes read from one archive against MAX_READ_BYTES."""

    def __init__(self, path: Path):
        self.path, self.total = path, 0

    def add(self, name: str, count: int) -> None:
        self.total += count
        if self.total > MAX_READ_BYTES:
            raise _bomb(self.path, name, f"unpacks to more than {MAX_READ_BYTES // 2**20} MB")


def _read_capped(stream, path: Path, name: str, compressed: int, budget: _Budget) -> bytes:
    parts, size = [], 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        budget.add(name, len(chunk))
        if size > RATIO_MIN_BYTES and size > MAX_RATIO * max(compressed, 1):
            raise _bomb(path, name, f"unpacks to over {MAX_RATIO} times its packed size")
        parts.append(chunk)
    return b"".join(parts)


def zip_names(path: Path) -> list[str]:
    """The member names of a zip (files only), or InputError if it is not a readable zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [info.filename for info in archive.infolist() if not info.is_dir()]
    except _ZIP_ERRORS as exc:
        raise _damaged(path, exc) from exc


def read_zip(path: Path, names: list[str]) -> list[bytes]:
    """The bytes of the named zip members, in the order given."""
    budget, out = _Budget(path), []
    try:
        with zipfile.ZipFile(path) as archive:
            for name in names:
                _check_safe(path, name)
                info = archive.getinfo(name)
                if info.file_size > MAX_READ_BYTES:
                    raise _bomb(path, name, f"says it unpacks to {info.file_size // 2**20} MB")
                with archive.open(info) as stream:
                    out.append(_read_capped(stream, path, name, info.compress_size, budget))
    except RuntimeError as exc:  # zipfile's "encrypted, password required"
        raise InputError(f"{path.name} is password-protected. Export it again without a password.") from exc
    except NotImplementedError as exc:
        raise InputError(f"{path.name} uses a compression method that cannot be read ({exc}). "
                         "Unpack it and zip it again with ordinary (deflate) compression.") from exc
    except _ZIP_ERRORS as exc:
        raise _damaged(path, exc) from exc
    return out


def _check_gzip_holds_tar(path: Path) -> None:
    """A gzip of something else than a tar (`posts.txt.gz`) gets its own message, not 'damaged'."""
    with path.open("rb") as f:
        if not is_gzip(f.read(2)):
            return
    try:
        with gzip.open(path) as f:
            first = f.read(512)
    except (OSError, EOFError, zlib.error) as exc:
        raise _damaged(path, exc) from exc
    if not is_tar(first):
        raise InputError(f"{path.name} is compressed but holds no tar archive; only Mastodon archives (.tar.gz) are read "
                         "from .gz files. Decompress it and upload the file inside.")


def read_tar_member(path: Path, wanted: Callable[[str], bool]) -> tuple[str, bytes] | None:
    """The first regular file whose name `wanted` accepts, from a (gzip-compressed) tar; None if none.

    The tar is streamed: no member list is built and reading stops at the first match. How far
    the stream unpacks is bounded by MAX_RATIO times the file's size, so a bomb ends early.
    """
    _check_gzip_holds_tar(path)
    limit = MAX_RATIO * max(path.stat().st_size, 1) + RATIO_MIN_BYTES
    budget = _Budget(path)
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                name = member.name
                if member.offset_data + member.size > limit:
                    raise _bomb(path, name, f"lies beyond {MAX_RATIO} times the archive's size")
                if not wanted(name.removeprefix("./")):
                    continue
                _check_safe(path, name)
                if not member.isfile():
                    continue
                if member.size > MAX_READ_BYTES:
                    raise _bomb(path, name, f"says it unpacks to {member.size // 2**20} MB")
                stream = archive.extractfile(member)
                data = _read_capped(stream, path, name, path.stat().st_size, budget)
                if len(data) != member.size:
                    raise _damaged(path)
                return name, data
    except _TAR_ERRORS as exc:
        raise _damaged(path, exc) from exc
    return None
