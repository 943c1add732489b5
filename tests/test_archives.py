"""The one zip reader (`studio.ingest.archives.SafeZip`): the same hostile zips refused through both of its
callers, the ingest (an X archive through `load_file`) and the persona import (`import_zip`)."""

import io
import struct
import zipfile

import pytest

from studio.errors import InputError
from studio.ingest import archives, load_file
from studio.persona.registry import PersonaRegistry
from studio.persona.share import import_zip

# The member each caller reads, and what else its archive needs for the member to be read at all.
MEMBER = {"ingest": "data/tweets.js", "import": "data/train.jsonl"}
OTHERS = {"ingest": {}, "import": {"persona.json": "{}", "adapter/adapter_config.json": "{}",
                                   "adapter/adapter_model.safetensors": "x"}}
BOMB = "window.YTD.tweets.part0 = [" + " " * (8 * 2**20) + "]"  # packs to a few KB: over 200-fold
CALLERS = ["ingest", "import"]


def load(caller: str, path):
    return load_file(path) if caller == "ingest" else import_zip(path, name="evil")


def write(tmp_path, caller: str, members: dict, name="hostile.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in {**OTHERS[caller], **members}.items():
            if isinstance(member, zipfile.ZipInfo):
                member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, data)
    return path


def patch_member(path, name: str, central: int, local: int, fmt: str, value: int):
    """Overwrite one field of `name`'s central directory entry and local header (offsets from each signature)."""
    data = bytearray(path.read_bytes())
    for signature, offset, name_at in ((b"PK\x01\x02", central, 46), (b"PK\x03\x04", local, 30)):
        at = data.find(signature)
        while data[at + name_at:at + name_at + len(name)] != name.encode():
            at = data.find(signature, at + 1)
        struct.pack_into(fmt, data, at + offset, value)
    path.write_bytes(bytes(data))


def refused(caller: str, path, message: str):
    with pytest.raises(InputError, match=message):
        load(caller, path)
    assert not PersonaRegistry().exists("evil")


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("prefix", ["../", "/", "C:\\", "a/../../"])
def test_traversal_names_refused_by_both(tmp_path, caller, prefix):
    member = prefix + MEMBER[caller].replace("/", "\\" if "\\" in prefix else "/")
    refused(caller, write(tmp_path, caller, {member: "x"}), r"points outside the archive \(path traversal\)")


@pytest.mark.parametrize("caller", CALLERS)
def test_zip_bomb_refused_by_both_with_the_same_default_limits(tmp_path, caller):
    path = write(tmp_path, caller, {MEMBER[caller]: BOMB})
    assert path.stat().st_size < 100_000
    refused(caller, path, r"says it unpacks to over 200 times its packed size \(a 'zip bomb'\?\)")


@pytest.mark.parametrize("caller", CALLERS)
def test_links_and_passwords_refused_by_both(tmp_path, caller):
    link = zipfile.ZipInfo(MEMBER[caller])
    link.external_attr = 0o120777 << 16
    refused(caller, write(tmp_path, caller, {link: "/etc/passwd"}), "is a symbolic link")
    path = write(tmp_path, caller, {MEMBER[caller]: "x"}, name="locked.zip")
    patch_member(path, MEMBER[caller], central=8, local=6, fmt="<H", value=0x1)  # the "encrypted" flag
    refused(caller, path, "is password-protected.*Export it again without a password")


@pytest.mark.parametrize("caller", CALLERS)
def test_too_many_entries_refused_by_both(tmp_path, caller, monkeypatch):
    monkeypatch.setattr(archives, "MAX_MEMBERS", 5)
    members = {MEMBER[caller]: "x", **{f"README-{i}.md": "x" for i in range(5)}}
    refused(caller, write(tmp_path, caller, members), r"lists \d+ entries, more than the 5 a real export holds")


@pytest.mark.parametrize("caller", CALLERS)
def test_member_larger_than_declared_refused_by_both(tmp_path, caller, monkeypatch):
    path = write(tmp_path, caller, {MEMBER[caller]: BOMB})
    patch_member(path, MEMBER[caller], central=24, local=22, fmt="<I", value=1000)  # says 1000 bytes unpacked
    refused(caller, path, "is damaged or truncated")  # zipfile stops at 1000 bytes: their checksum is wrong
    # A zip library that trusted the data instead of the declared size: the reader still stops there.
    read = {}

    class Lying(io.BytesIO):
        def close(self):
            read[self.name] = (self.tell(), self.declared)
            super().close()

    def lying_open(self, info, *args, **kwargs):
        stream = Lying(b" " * (info.file_size + 10 * 2**20))
        stream.name, stream.declared = info.filename, info.file_size
        return stream

    monkeypatch.setattr(zipfile.ZipFile, "open", lying_open)
    refused(caller, path, r"is larger than the archive says \(a forged zip\)")
    assert read and all(done <= declared + 1 for done, declared in read.values())  # +1 to notice the lie


PARTS = {"ingest": ["data/tweets-part1.js", "data/tweets-part2.js", "data/tweets-part3.js"],
         "import": ["data/train.jsonl", "data/validation.jsonl", "README.md"]}


@pytest.mark.parametrize("caller, hint", [("ingest", "Upload only its posts file"),
                                          ("import", "Set STUDIO_MAX_IMPORT_MB")])
def test_each_callers_total_checked_by_the_same_code(tmp_path, caller, hint, monkeypatch):
    monkeypatch.setattr(archives, "MAX_READ_BYTES", 2**20)  # the ingest's total
    monkeypatch.setenv("STUDIO_MAX_IMPORT_MB", "1")  # the import's
    path = write(tmp_path, caller, {MEMBER[caller]: b"\x00\xff" * 2**20})
    refused(caller, path, rf"'{MEMBER[caller]}' says it unpacks to 2 MB, more than the 1 MB read from one archive\. "
                          rf"{hint}")
    parts = write(tmp_path, caller, {name: b"\x00\xff" * 200_000 for name in PARTS[caller]}, name="parts.zip")
    refused(caller, parts, rf"unpacks to more than 1 MB \(counting up to '{PARTS[caller][2]}'\)\. {hint}")


def test_reader_lists_and_reads_within_the_limits(tmp_path):
    path = write(tmp_path, "ingest", {"data/tweets.js": "window.YTD.tweets.part0 = []", "media/../../x.jpg": b"\xff"})
    with archives.SafeZip(path) as archive:
        assert archive.names() == ["data/tweets.js", "media/../../x.jpg"]
        assert archive.read(["data/tweets.js"]) == [b"window.YTD.tweets.part0 = []"]
        with pytest.raises(InputError, match="path traversal"):
            archive.check(["media/../../x.jpg"])  # refused when it is to be read, not when it is only listed
    with pytest.raises(InputError, match="is damaged or truncated"):
        archives.SafeZip(tmp_path / "nothing.zip")
