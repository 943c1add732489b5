"""Read a person's posts from files or pasted text: one parser per format, picked by sniffing.

Every parser returns `list[Post]`; `load_posts` runs the right one per file and raises
`InputError` with a message that says what is wrong and what to do.
"""

from __future__ import annotations

from pathlib import Path

from studio.errors import InputError
from studio.ingest.base import MAX_FILE_BYTES, Post, read_text
from studio.ingest.jsonl import parse_json, parse_jsonl
from studio.ingest.table import parse_table
from studio.ingest.text import parse_text

__all__ = ["Post", "load_posts", "load_file", "parse_pasted", "SUPPORTED"]

SUPPORTED = ".txt, .csv, .tsv, .jsonl, .json"


def _sniff(name: str, text: str) -> str:
    """The format of a file: by extension where it is a known one, else by its first characters."""
    suffix = Path(name).suffix.lower()
    by_suffix = {".txt": "text", ".text": "text", ".md": "text", ".csv": "table", ".tsv": "table",
                 ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    head = text.lstrip()[:1]
    if head == "[":
        return "json"
    if head == "{":
        return "jsonl"
    return "text"


def load_file(path: str | Path, text_column: str | None = None) -> list[Post]:
    """Posts from one file (any supported format)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file. Check the path; supported formats: {SUPPORTED}.")
    if path.suffix.lower() in (".zip", ".gz", ".tar", ".car", ".js"):
        raise InputError(
            f"{path.name}: archives and exports ({path.suffix}) are not read yet. "
            f"Extract the posts to one of: {SUPPORTED}."
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path.name} is {size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB. Split it or keep only the posts.")
    text = read_text(path.read_bytes(), path.name)
    kind = _sniff(path.name, text)
    if kind == "table":
        posts = parse_table(text, path.name, text_column=text_column)
    elif kind == "jsonl":
        posts = parse_jsonl(text, path.name)
    elif kind == "json":
        posts = parse_json(text, path.name)
    else:
        posts = parse_text(text, path.name)
    if not any(p.text.strip() for p in posts):
        raise InputError(f"{path.name}: no usable text found. Supported formats: {SUPPORTED}, with one post per line or row.")
    return posts


def load_posts(paths, text_column: str | None = None) -> list[Post]:
    """Posts from several files, in order."""
    paths = list(paths)
    if not paths:
        raise InputError(f"No input files given. Upload or name at least one file ({SUPPORTED}).")
    posts: list[Post] = []
    for path in paths:
        posts.extend(load_file(path, text_column=text_column))
    return posts


def parse_pasted(text: str) -> list[Post]:
    """Posts from pasted text: one per line."""
    posts = parse_text(text or "", "pasted")
    if not any(p.text.strip() for p in posts):
        raise InputError("The pasted text is empty: paste one post per line.")
    return posts
