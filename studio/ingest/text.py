"""Plain text: one post per line, or posts separated by blank lines."""

from __future__ import annotations

from studio.ingest.base import Post

MODES = ("auto", "lines", "blocks")


def text_blocks(text: str) -> list[list[str]]:
    """The runs of non-blank lines, each a list of its lines."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def looks_like_blocks(blocks: list[list[str]]) -> bool:
    """Blank-line-separated posts: several blocks, most of them longer than one line.

    A list of one-line posts with the odd blank line between them stays one post per line.
    """
    return len(blocks) >= 2 and sum(len(block) > 1 for block in blocks) * 2 > len(blocks)


def parse_text(text: str, source: str, mode: str = "auto") -> list[Post]:
    """Posts from plain text. `mode`: "lines" (one post per line), "blocks" (posts separated by
    blank lines, their lines joined with "\\n"), or "auto" (blocks when `looks_like_blocks`)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    blocks = text_blocks(text)
    if mode == "blocks" or (mode == "auto" and looks_like_blocks(blocks)):
        return [Post(text="\n".join(block), source=source) for block in blocks]
    return [Post(text=line, source=source) for block in blocks for line in block]
