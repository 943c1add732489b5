"""Plain text: one post per line."""

from __future__ import annotations

from studio.ingest.base import Post


def parse_text(text: str, source: str) -> list[Post]:
    return [Post(text=line, source=source) for line in text.splitlines() if line.strip()]
