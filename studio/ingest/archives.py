"""Read chosen members of a zip or tar archive into memory, safely: the one archive reader.

Exports (X archives, Mastodon backups) hold gigabytes of media beside a few MB of posts, and a
persona export holds an adapter and its data; both are read through `SafeZip` (a tar through
`read_tar_member`), in memory, never extracted to disk, under one set of limits:

- a member name that is absolute (`/etc/x`, `C:\\x`) or climbs out (`../x`), a link, or a
  password-protected member is refused;
- a zip listing more than MAX_MEMBERS entries is refused;
- a member that says it unpacks to more than the total, or (past RATIO_MIN_BYTES) to more than
  MAX_RATIO times its packed size, is refused before a byte is unpacked, and so are members that
  together say more than the total (MAX_READ_BYTES, or what the caller passes: an import passes
  `STUDIO_MAX_IMPORT_MB`);
- each member is read with a hard cap at its declared size, so a forged size cannot make it
  unpack more, and the ratio is checked again on the bytes actually read.

The limits apply to the members that are read: an ingest reads only the posts files of an export
(its media are never opened), an import reads and checks every member.
"""

from __future__ import annotations

import gzip
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable

from studio.errors import InputError

MAX_READ_BYTES = 500 * 1024 * 1024
"""Uncompressed bytes read from one archive, all chosen members together, unless the caller passes its own total."""
MAX_MEMBERS = 250_000
"""Entries a zip may list: an X archive with years of photos lists tens of thousands, a persona export seven."""
MAX_RATIO = 200
"""A member bigger than RATIO_MIN_BYTES that unpacks to more than this times its packed size is a bomb."""
RATIO_MIN_BYTES = 1024 * 1024
CHUNK = 1024 * 1024

REDO = "Export the archive again and upload it as downloaded, or upload only its posts file."
"""What to do about a hostile or damaged export (the ingest's wording; an import passes its own)."""
TOO_BIG = "Upload only its posts file (data/tweets.js, or outbox.json for Mastodon)."
"""What to do about an export over the total (the ingest's wording; an import passes its own)."""

_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
_TAR_ERRORS = (tarfile.TarError, zlib.error, EOFError, OSError)


def is_zip(head: bytes) -> bool:
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def is_gzip(head: bytes) -> bool:
    return head.startswith(b"\x1f\x8b")


def is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


def is_unsafe_name(name: str) -> bool:
    """True for a member name that is absolute (`/x`, `\\x`, `C:x`) or climbs out of the archive's folder (`..`)."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    return path.is_absolute() or name[1:2] == ":" or ".." in path.parts


def _damaged(path: Path, exc: Exception | None = None) -> InputError:
    detail = f" ({exc})" if exc and str(exc) else ""
    return InputError(f"{path.name} is damaged or truncated; export it again, or download it again{detail}.")


def _refused(path: Path, name: str, what: str, redo: str = REDO) -> InputError:
    return InputError(f"Refused {path.name}: its member {name!r} {what}; a real export has no such member. {redo}")


def _check_name(path: Path, name: str, redo: str = REDO) -> None:
    if is_unsafe_name(name):
        raise _refused(path, name, "points outside the archive (path traversal)", redo)


def _bomb(path: Path, name: str, why: str, redo: str = REDO) -> InputError:
    return _refused(path, name, f"{why} (a 'zip bomb'?)", redo)


def _mb(size: int) -> str:
    return f"{size // 2**20} MB" + (f" ({size} bytes)" if size < 2**20 else "")


def _too_big(path: Path, name: str, size: int, limit: int, too_big: str = TOO_BIG) -> InputError:
    return InputError(f"{path.name}: {name!r} says it unpacks to {_mb(size)}, more than the "
                      f"{_mb(limit)} read from one archive. {too_big}")


def _is_bomb(size: int, packed: int) -> bool:
    return size > RATIO_MIN_BYTES and size > MAX_RATIO * max(packed, 1)


def _read_capped(stream, path: Path, name: str, declared: int, packed: int, redo: str = REDO) -> bytes:
    """At most `declared` bytes (one more is read to notice a member larger than it says), checking the ratio."""
    parts, size = [], 0
    while chunk := stream.read(min(CHUNK, declared + 1 - size)):
        size += len(chunk)
        if size > declared:
            raise _refused(path, name, "is larger than the archive says (a forged zip)", redo)
        if _is_bomb(size, packed):
            raise _bomb(path, name, f"unpacks to over {MAX_RATIO} times its packed size", redo)
        parts.append(chunk)
    return b"".join(parts)


class SafeZip:
    """A zip opened to read chosen members into memory under the archive limits (see the module's docstring).

    `total`: what the members read may unpack to together (default MAX_READ_BYTES). `redo` and
    `too_big` end the messages: what to do about a hostile or damaged archive, and about one over
    the total. Use it as a context manager; an unreadable zip is an InputError saying it is damaged.
    """

    def __init__(self, path: str | Path, *, total: int | None = None, redo: str = REDO, too_big: str = TOO_BIG):
        self.path = Path(path)
        self.total = MAX_READ_BYTES if total is None else total
        self.redo, self.too_big = redo, too_big
        try:
            self._zip = zipfile.ZipFile(self.path)
        except _ZIP_ERRORS as exc:
            raise _damaged(self.path, exc) from exc
        count = len(self._zip.infolist())
        if count > MAX_MEMBERS:
            self._zip.close()
            raise InputError(f"Refused {self.path.name}: it lists {count} entries, more than the {MAX_MEMBERS} "
                             f"a real export holds (a forged zip?). {redo}")

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()

    def names(self) -> list[str]:
        """The member names, files only (folders are left out), in the archive's order."""
        return [info.filename for info in self._zip.infolist() if not info.is_dir()]

    def check(self, names: list[str]) -> list[zipfile.ZipInfo]:
        """The named members, after every check that needs no unpacking; an InputError for the first that fails."""
        infos, total = [], 0
        for name in names:
            info = self._zip.getinfo(name)
            self._check_member(info)
            total += info.file_size
            if total > self.total:
                raise InputError(f"{self.path.name} unpacks to more than {_mb(self.total)} "
                                 f"(counting up to {name!r}). {self.too_big}")
            infos.append(info)
        return infos

    def _check_member(self, info: zipfile.ZipInfo) -> None:
        name = info.filename
        _check_name(self.path, name, self.redo)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refused(self.path, name, "is a symbolic link", self.redo)
        if info.flag_bits & 0x1:
            raise InputError(f"{self.path.name} is password-protected ({name!r} is encrypted). "
                             "Export it again without a password.")
        if info.file_size > self.total:
            raise _too_big(self.path, name, info.file_size, self.total, self.too_big)
        if _is_bomb(info.file_size, info.compress_size):
            raise _bomb(self.path, name, f"says it unpacks to over {MAX_RATIO} times its packed size", self.redo)

    def read(self, names: list[str]) -> list[bytes]:
        """The bytes of the named members, in the order given; all are checked before any is unpacked."""
        out = []
        try:
            for info in self.check(names):
                with self._zip.open(info) as stream:
                    out.append(_read_capped(stream, self.path, info.filename, info.file_size, info.compress_size,
                                            self.redo))
        except RuntimeError as exc:  # zipfile's "encrypted, password required", should the flag check miss one
            raise InputError(f"{self.path.name} is password-protected. Export it again without a password.") from exc
        except NotImplementedError as exc:
            raise InputError(f"{self.path.name} uses a compression method that cannot be read ({exc}). "
                             "Unpack it and zip it again with ordinary (deflate) compression.") from exc
        except _ZIP_ERRORS as exc:
            raise _damaged(self.path, exc) from exc
        return out


def zip_names(path: Path) -> list[str]:
    """The member names of a zip (files only), or InputError if it is not a readable zip."""
    with SafeZip(path) as archive:
        return archive.names()


def read_zip(path: Path, names: list[str]) -> list[bytes]:
    """The bytes of the named zip members, in the order given, under the ingest's limits."""
    with SafeZip(path) as archive:
        return archive.read(names)


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
    packed = max(path.stat().st_size, 1)
    limit = MAX_RATIO * packed + RATIO_MIN_BYTES
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                name = member.name
                if member.offset_data + member.size > limit:
                    raise _bomb(path, name, f"lies beyond {MAX_RATIO} times the archive's size")
                if not wanted(name.removeprefix("./")):
                    continue
                _check_name(path, name)
                if not member.isfile():
                    continue
                if member.size > MAX_READ_BYTES:
                    raise _too_big(path, name, member.size, MAX_READ_BYTES)
                data = _read_capped(archive.extractfile(member), path, name, member.size, packed)
                if len(data) != member.size:
                    raise _damaged(path)
                return name, data
    except _TAR_ERRORS as exc:
        raise _damaged(path, exc) from exc
    return None
