"""Memory at chat time: the few posts of the person most relevant to a message, put into the prompt.

BM25 (bm25s) over character 2- and 3-grams of the persona's cleaned training posts
(personas/<slug>/data/train.jsonl), so Japanese, which has no spaces between words, is matched without
a word segmenter, and English spelling variants still share most n-grams. The index is built once per
persona version (keyed by the posts file's path, size and time) and kept in memory.

Off by default (a pane's "memory" setting, `chat --memory`, EvalConfig.memory): the retrieved posts
join the system prompt as a short "Things you have written:" block; the adapter still writes the reply.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path

from studio.files import read_jsonl
from studio.persona.registry import Persona

log = logging.getLogger(__name__)

NGRAMS = (2, 3)
HEADER = "Things you have written:"
POST_CHARS = 280  # each retrieved post is cut to this length in the prompt
MAX_CACHED = 16  # persona versions whose index is kept in memory


def char_ngrams(text: str, sizes: tuple[int, ...] = NGRAMS) -> list[str]:
    """Character n-grams of the NFKC-folded, lower-cased text with runs of spaces made one; n-grams of
    spaces and punctuation alone are dropped (they match everything)."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "").lower()).strip()
    grams = []
    for n in sizes:
        grams += [text[i:i + n] for i in range(len(text) - n + 1)]
    return [g for g in grams if any(ch.isalnum() for ch in g)]


class PostMemory:
    """A BM25 index over posts; `search(message, k)` gives the k most relevant (fewer when fewer match)."""

    def __init__(self, posts: list[str]):
        import bm25s

        self.posts = [p for p in posts if p.strip()]
        self.index = bm25s.BM25()
        if self.posts:
            self.index.index([char_ngrams(p) or [""] for p in self.posts], show_progress=False)
        self.vocab = getattr(self.index, "vocab_dict", {}) or {}

    def search(self, message: str, k: int = 3) -> list[str]:
        query = [g for g in char_ngrams(message) if g in self.vocab]
        k = min(int(k), len(self.posts))
        if not query or k <= 0:
            return []
        ids, scores = self.index.retrieve([query], k=k, show_progress=False)
        return [self.posts[int(i)] for i, s in zip(ids[0], scores[0]) if s > 0]


_cache: dict[tuple, PostMemory] = {}
_lock = threading.Lock()


def posts_file(persona: Persona) -> Path:
    return persona.path / "data" / "train.jsonl"


def memory_for(persona: Persona) -> PostMemory | None:
    """The persona version's index, built on first use; None when it has no posts file."""
    path = posts_file(persona)
    if not path.is_file():
        return None
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key not in _cache:
            posts = [record["text"] for record in read_jsonl(path)]
            if len(_cache) >= MAX_CACHED:
                _cache.pop(next(iter(_cache)))
            _cache[key] = PostMemory(posts)
            log.info("Memory index for %s: %d posts", persona.slug, len(posts))
        return _cache[key]


def block(posts: list[str]) -> str:
    """The prompt block: the header and one '- post' line each (cut to POST_CHARS, on one line)."""
    lines = [re.sub(r"\s+", " ", p).strip() for p in posts]
    return HEADER + "\n" + "\n".join(f"- {p[:POST_CHARS]}" for p in lines if p)


def with_memory(system_prompt: str, persona: Persona | None, message: str, k: int = 3) -> str:
    """The system prompt with the k posts most relevant to `message` after it (unchanged when none match)."""
    memory = memory_for(persona) if persona is not None and k > 0 else None
    found = memory.search(message, k) if memory is not None else []
    return f"{system_prompt}\n\n{block(found)}" if found else system_prompt


def system_prompter(persona: Persona, k: int) -> Callable[[str], str]:
    """message -> the persona's system prompt, with memory when k > 0 (the evaluation's chats)."""
    return lambda message: with_memory(persona.system_prompt, persona, message, k)
