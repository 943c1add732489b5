"""Read a person's posts from files or pasted text: one parser per format, picked by sniffing.

Every parser returns `list[Post]`; `load_posts` runs the right one per file and raises
`InputError` with a message that says what is wrong and what to do. Archives and exports are
recognised by their content, whatever their name: zip (X or Mastodon), tar.gz (Mastodon),
`window.YTD.tweets...` (X's tweets.js), an ActivityPub outbox (Mastodon's outbox.json) and CAR
(Bluesky); chat logs and Meta exports by `studio.ingest.chat_sources.sniff` (LINE, WhatsApp, Telegram,
Discord, Messenger, Instagram). Chat messages carry a `speaker`: `load_posts(..., speakers=[...])` keeps
the chosen ones (`list_speakers` counts them). Subtitles by a `WEBVTT` header or SRT timing, an old X
archive's tweets.csv and Reddit's comments.csv / posts.csv by their header row.
"""

from __future__ import annotations

import logging
from pathlib import Path

from studio.errors import InputError
from studio.ingest import archives, bluesky, chat_sources, mastodon, reddit, subtitles, x_archive, x_legacy
from studio.ingest.base import MAX_FILE_BYTES, Post, read_text
from studio.ingest.chats import pick_speakers, speaker_counts
from studio.ingest.jsonl import parse_json, parse_jsonl
from studio.ingest.table import parse_table
from studio.ingest.text import parse_text

__all__ = ["Post", "load_posts", "load_file", "list_speakers", "parse_pasted", "SUPPORTED", "UPLOAD_SUFFIXES"]

SUPPORTED = (".txt, .csv, .tsv, .jsonl, .json, an X archive (.zip or its tweets.js), "
             "a Mastodon archive (.zip, .tar.gz or its outbox.json), a Bluesky export (.car), "
             "a chat log (LINE or WhatsApp .txt, Telegram result.json, Discord .json/.csv, Messenger or Instagram "
             "message_1.json) or Instagram posts_1.json, subtitles (.vtt, .srt), an old X archive's tweets.csv, "
             "Reddit's data export (.zip, or its comments.csv / posts.csv)")
UPLOAD_SUFFIXES = [".txt", ".csv", ".tsv", ".jsonl", ".json", ".js", ".zip", ".gz", ".tgz", ".tar", ".car",
                   ".vtt", ".srt"]
"""What an upload widget should accept."""

ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar")
log = logging.getLogger(__name__)


def _sniff(name: str, text: str) -> str:
    """The format of a text file: an export by its content, else by extension, else by its first characters."""
    if x_archive.ytd_kind(text):
        return "x"
    if mastodon.is_outbox(text):
        return "mastodon"
    if subtitles.is_subtitles(text):
        return "subtitles"
    if x_legacy.is_tweets_csv(text):
        return "x-csv"
    if reddit.is_reddit_csv(text):
        return "reddit"
    suffix = Path(name).suffix.lower()
    by_suffix = {".txt": "text", ".text": "text", ".md": "text", ".csv": "table", ".tsv": "table",
                 ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".js": "x",
                 ".vtt": "subtitles", ".srt": "subtitles"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    head = text.lstrip()[:1]
    if head == "[":
        return "json"
    if head == "{":
        return "jsonl"
    return "text"


def _load_mastodon(path: Path, include_private: bool, names: list[str] | None = None, text: str | None = None) -> list[Post]:
    if text is None:
        posts, skipped = mastodon.load_mastodon(path, include_private=include_private, names=names)
    else:
        posts, skipped = mastodon.parse_outbox(text, path.name, include_private=include_private)
    if skipped:
        log.info("%s: left out %d followers-only or direct posts", path.name, skipped)
        if not posts:
            raise InputError(f"{path.name}: all {skipped} posts are followers-only or direct, and private posts are "
                             "left out by default. Use an archive with public posts.")
    return posts


def _load_archive(path: Path, head: bytes, include_private: bool) -> tuple[str, list[Post]]:
    """An X or Mastodon zip, or a Mastodon tar(.gz): only the posts members are read."""
    if archives.is_zip(head):
        names = archives.zip_names(path)
        if not x_archive.tweet_members(names) and any(mastodon.is_outbox_member(n) for n in names):
            return "mastodon", _load_mastodon(path, include_private, names=names)
        if not x_archive.tweet_members(names) and (found := reddit.members(names)):
            return "reddit", _load_reddit(path, found)
        return "x", x_archive.parse_x_archive(path, names)
    return "mastodon", _load_mastodon(path, include_private)


def _stamp(posts: list[Post], name: str, kind: str) -> list[Post]:
    """Every post says what kind of export it came from (`source`) and which upload (`upload`, the file's name).
    A parser that names a finer kind ('whatsapp') keeps it, and so does a JSON(L) record that names its own (the
    studio's own output, read again); a parser that passed the file name as its source gets the kind."""
    for post in posts:
        post.upload = post.upload or name
        if not post.source or post.source == name:
            post.source = kind
    return posts


def _load_reddit(path: Path, members: list[str]) -> list[Post]:
    """Reddit's export zip: posts.csv and comments.csv only."""
    return [post for name, data in zip(members, archives.read_zip(path, members))
            for post in reddit.parse_reddit_csv(read_text(data, f"{path.name}:{name}"), f"{path.name}:{name}")]


def load_file(path: str | Path, text_column: str | None = None, *, include_private: bool = False) -> list[Post]:
    """Posts from one file (any supported format).

    `include_private`: keep Mastodon followers-only and direct posts (left out by default;
    `studio.ingest.mastodon.load_mastodon` also returns how many were left out).
    Each post's `source` is the kind of export (`studio.ingest.base.KINDS`) and its `upload` the file's name.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file. Check the path; supported formats: {SUPPORTED}.")
    with path.open("rb") as f:
        head = f.read(512)
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if archives.is_zip(head) or archives.is_gzip(head) or archives.is_tar(head):
        kind, posts = _load_archive(path, head, include_private)  # read member by member: no size limit here
    elif path.suffix.lower() in ARCHIVE_SUFFIXES:
        raise InputError(f"{path.name} is not a {suffix} archive (damaged, or renamed from something else). "
                         "Export it again, or upload the posts as one of: .txt, .csv, .jsonl, .json.")
    else:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path.name} is {size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB. Split it or keep only the posts.")
        if bluesky.is_car(head) or suffix == ".car":
            kind, posts = "bluesky", bluesky.parse_car(path.read_bytes(), path.name)
        else:  # the bytes are dropped once decoded: a large file is not held twice while parsed
            kind, posts = _parse_text_file(path, read_text(path.read_bytes(), path.name), text_column, include_private)
    if not any(p.text.strip() for p in posts):
        raise InputError(f"{path.name}: no usable text found. Supported formats: {SUPPORTED}, with one post per line or row.")
    return _stamp(posts, path.name, kind)


def _parse_text_file(path: Path, text: str, text_column: str | None, include_private: bool) -> tuple[str, list[Post]]:
    chat = chat_sources.sniff(path.name, text)
    if chat:
        return chat, chat_sources.parse(chat, text, path.name)
    kind = _sniff(path.name, text)
    if kind == "x":
        return kind, x_archive.parse_tweets_js(text, path.name)
    if kind == "mastodon":
        return kind, _load_mastodon(path, include_private, text=text)
    if kind == "reddit":
        return kind, reddit.parse_reddit_csv(text, path.name)
    if kind == "x-csv":
        return "x", x_legacy.parse_tweets_csv(text, path.name)
    if kind == "subtitles":
        return kind, subtitles.parse_subtitles(text, path.name)
    if kind == "table":
        return "csv", parse_table(text, path.name, text_column=text_column)
    if kind == "jsonl":
        return kind, parse_jsonl(text, path.name)
    if kind == "json":
        return kind, parse_json(text, path.name)
    return "text", parse_text(text, path.name)


def load_posts(paths, text_column: str | None = None, *, include_private: bool = False,
               speakers: list[str] | None = None) -> list[Post]:
    """Posts from several files, in order. Chat messages: only those of `speakers` (none needed when the
    chats have one speaker; a name with no messages is an `InputError` listing the speakers there are).
    Two uploads of the same name are told apart as `name`, `name (2)`..."""
    return pick_speakers(_load_all(paths, text_column, include_private), speakers)


def list_speakers(paths, text_column: str | None = None, *, include_private: bool = False) -> list[tuple[str, int]]:
    """The chat speakers in these files with their number of messages, most first ([] when none is a chat log)."""
    return speaker_counts(_load_all(paths, text_column, include_private))


def _load_all(paths, text_column: str | None, include_private: bool) -> list[Post]:
    paths = list(paths)
    if not paths:
        raise InputError(f"No input files given. Upload or name at least one file ({SUPPORTED}).")
    posts: list[Post] = []
    seen: dict[str, int] = {}
    for path in paths:
        loaded = load_file(path, text_column=text_column, include_private=include_private)
        name = Path(path).name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            for post in loaded:
                post.upload = f"{name} ({seen[name]})" if post.upload == name else post.upload
        posts.extend(loaded)
    return posts


def parse_pasted(text: str) -> list[Post]:
    """Posts from pasted text: one per line, or separated by blank lines."""
    posts = _stamp(parse_text(text or "", "pasted"), "pasted", "text")
    if not any(p.text.strip() for p in posts):
        raise InputError("The pasted text is empty: paste one post per line, or posts separated by blank lines.")
    return posts
