"""JSON Lines (one object or string per line, e.g. `studio ingest` output) and JSON arrays."""

from __future__ import annotations

import json

from studio.errors import InputError
from studio.ingest.base import Post
from studio.ingest.table import TEXT_COLUMNS


def _post(item, source: str, where: str) -> Post:
    if isinstance(item, str):
        return Post(text=item, source=source)
    if isinstance(item, dict):
        key = next((k for k in TEXT_COLUMNS if isinstance(item.get(k), str)), None)
        if key is None:
            raise InputError(f"{source}: {where} has no text field (one of: {', '.join(TEXT_COLUMNS)}).")
        return Post.from_dict({**item, "text": item[key], "source": item.get("source") or source})
    raise InputError(f"{source}: {where} is a {type(item).__name__}; expected an object with a 'text' field or a string.")


def _lines(text: str):
    """The lines of `text` one at a time (a list of all the lines of a large file would hold it twice)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        yield text[start:end].rstrip("\r")
        start = end + 1


def parse_jsonl(text: str, source: str) -> list[Post]:
    posts = []
    for number, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}: line {number} is not valid JSON ({exc.msg}). Each line must be one JSON object.") from exc
        posts.append(_post(item, source, f"line {number}"))
    return posts


def parse_json(text: str, source: str) -> list[Post]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}).") from exc
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list):
        raise InputError(f"{source}: expected a JSON array of posts (objects with a 'text' field, or strings).")
    return [_post(item, source, f"item {i}") for i, item in enumerate(data, 1)]
