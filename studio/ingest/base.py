"""The `Post` record and byte decoding shared by the parsers."""

from __future__ import annotations

import codecs
import os
from dataclasses import asdict, dataclass, fields

from studio.errors import InputError

MAX_FILE_BYTES = int(float(os.environ.get("STUDIO_MAX_UPLOAD_MB", "200")) * 1024 * 1024)
"""Text uploads larger than this are refused before reading (`$STUDIO_MAX_UPLOAD_MB`, default 200):
a year of daily posts is a few MB. Archives are read member by member under their own caps."""


KINDS = {"x": "X archive", "mastodon": "Mastodon archive", "bluesky": "Bluesky export", "csv": "CSV/TSV table",
         "jsonl": "JSON lines", "json": "JSON", "text": "plain text", "reddit": "Reddit export", "subtitles": "subtitles",
         "line": "LINE chat", "whatsapp": "WhatsApp chat", "telegram": "Telegram chat", "discord": "Discord chat",
         "messenger": "Messenger chat", "instagram": "Instagram"}
"""`Post.source` (the kind of export) -> what to call it in a report (a kind not listed here shows as it is)."""


@dataclass(slots=True)
class Post:
    """One post as a parser found it. Cleaning decides what to do with retweets, replies and the rest.
    Slotted: a million posts take about half the memory of a dict per post."""

    text: str
    source: str = ""  # the kind of export it came from (KINDS: 'x', 'csv', 'whatsapp'...), set by load_file
    upload: str = ""  # the upload it came from: the file's name ('pasted' for pasted text), set by load_file
    created_at: str | None = None  # ISO 8601 where the export gives a date
    lang: str | None = None  # the export's own language tag (X and Mastodon give one)
    id: str | None = None
    is_retweet: bool = False  # retweets and boosts: someone else's words
    is_reply: bool = False
    reply_to: str | None = None  # the handle replied to, where known
    reply_to_id: str | None = None  # the id of the post replied to: its text is the user turn when the export has it
    content_warning: str | None = None  # Mastodon's CW / summary, kept apart from the text
    visibility: str | None = None  # Mastodon: public, unlisted, private (followers only) or direct
    speaker: str | None = None  # chat logs: who wrote it (the persona is built from the speakers the user picks)
    context: str | None = None  # the text this post answered, when the export carries it (a chat log's previous
    # message from someone else): the user turn of its training example

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "", False)}

    @classmethod
    def from_dict(cls, data: dict) -> "Post":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def read_text(data: bytes, name: str) -> str:
    """Decode an upload: UTF-8 (with or without BOM), UTF-16 with BOM, else Shift_JIS/CP932.

    Excel writes Japanese CSVs as CP932 and some tools write UTF-16, so neither is assumed away;
    anything that decodes as none of them, or holds NUL bytes, is treated as binary.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: starts like UTF-16 but does not decode ({exc.reason}). Re-save it as UTF-8.") from exc
    if b"\x00" in data:
        raise InputError(f"{name}: this looks like a binary file, not text. Upload posts as text, CSV or JSONL.")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{name}: not UTF-8, UTF-16 or Shift_JIS text. Re-save it as UTF-8 (in Excel: 'CSV UTF-8').")
