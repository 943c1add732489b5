"""Replay: the base model's own answers to everyday requests, mixed into each training batch, so the
adapter learns the person's voice without overwriting what the base model does elsewhere.

The prompts (replay.json, written for this project, English and Japanese) are open-ended requests:
advice, how-to, short writing, opinions, planning, cooking, small talk, feelings, work, study; never a
quiz question, so they stay disjoint from the knowledge probe (studio/evaluation/probe.json), which
thus measures retention on what training never saw. The answers are generated once per base model
(greedy, the evaluation's decoder, a neutral system prompt) and cached under studio.config.cache_dir(),
keyed by the base model, the prompt file's hash and the decoding settings. The bundled model's answers ship
with the studio (replay_cache/, same key): they take 85-111 s to write on a 2-core CPU, before a first training's
first step (`python bench/replay_answers.py` writes them again after replay.json changes).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from pathlib import Path

from studio.chat.generate import BASE_ADAPTER
from studio.chat_format import chat_messages, encode_example
from studio.config import cache_dir
from studio.files import write_json

REPLAY_FILE = Path(__file__).with_name("replay.json")
SHIPPED_DIR = Path(__file__).with_name("replay_cache")
REPLAY_SYSTEM = "You are a helpful assistant."
"""Neutral, not the persona's: replay rows teach 'the base model's answers stay as they were', which the
persona's own prompt should not be tied to."""
REPLAY_TOKENS = 48  # new tokens per answer: about a post's length, so a replay row costs what a post row does
SENTENCE_END = re.compile(r"[.!?。！？](?=[^.!?。！？]*$)")


@functools.cache
def prompts() -> tuple[dict, ...]:
    return tuple(json.loads(REPLAY_FILE.read_text(encoding="utf-8"))["prompts"])


def _file_hash() -> str:
    return hashlib.sha256(REPLAY_FILE.read_bytes()).hexdigest()[:16]


def cache_path(base_key: dict) -> Path:
    """The cache file of the answers of the base model `base_key` (its manifest entry and folder)."""
    key = json.dumps({"base": base_key, "prompts": _file_hash(), "tokens": REPLAY_TOKENS, "system": REPLAY_SYSTEM},
                     sort_keys=True)
    return cache_dir() / "replay" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def trim(answer: str) -> str:
    """A cut-off answer ends at its last full sentence (when it has one), not mid-word."""
    answer = answer.strip()
    match = SENTENCE_END.search(answer)
    return answer[:match.end()] if match and match.end() > len(answer) // 3 else answer


def base_answers(model, tokenizer, base_key: dict) -> list[dict]:
    """[{"id", "lang", "prompt", "answer"}] for every replay prompt: from the cache or the shipped answers when
    this base model's are there (the model is not used then), else generated and cached atomically."""
    path = cache_path(base_key)
    for cached in (path, SHIPPED_DIR / path.name):
        if cached.is_file():
            return json.loads(cached.read_text(encoding="utf-8"))["answers"]
    answers = generate_answers(model, tokenizer)
    write_json(path, {"base": base_key, "answers": answers}, indent=1)
    return answers


def generate_answers(model, tokenizer) -> list[dict]:
    """The model's greedy answers to every replay prompt (the evaluation's decoder), empty ones left out."""
    from studio.evaluation.generate import eval_settings, generate

    asked = prompts()
    chats = [chat_messages(REPLAY_SYSTEM, p["prompt"]) for p in asked]
    replies = generate(model, tokenizer, chats, [BASE_ADAPTER if hasattr(model, "peft_config") else None] * len(chats),
                       eval_settings(REPLAY_TOKENS), batch_size=32)
    return [{"id": p["id"], "lang": p["lang"], "prompt": p["prompt"], "answer": trim(r)}
            for p, r in zip(asked, replies) if trim(r)]


CHAT_TOPICS = frozenset({"smalltalk", "feelings", "opinion"})
"""Requests a persona answers in its own voice: replaying the base's answers to them pulls the register back."""


def replay_examples(answers: list[dict], tokenizer, max_length: int, chat: bool = True) -> list[dict]:
    """Training examples of the base's answers (neutral system prompt, loss on the answer only); without
    `chat`, the answers to the CHAT_TOPICS requests are left out."""
    topics = {p["id"]: p["topic"] for p in prompts()}
    kept = [a for a in answers if chat or topics.get(a.get("id")) not in CHAT_TOPICS]
    examples = (encode_example(tokenizer, REPLAY_SYSTEM, a["prompt"], a["answer"], max_length) for a in kept)
    return [e for e in examples if e is not None]


def replay_rows(batch_size: int, share: float) -> int:
    """Replay rows that join a batch of `batch_size` posts so that they are about `share` of its rows
    (at least one when share > 0)."""
    if share <= 0:
        return 0
    return max(1, round(batch_size * share / (1 - share)))


class ReplayCollator:
    """Pads a batch of post examples (`pad`) and adds `rows` replay examples under the key "replay"
    (padded the same way), cycling through them in a seeded order."""

    def __init__(self, pad, examples: list[dict], rows: int, seed: int = 0):
        self.pad, self.examples, self.rows = pad, list(examples), rows
        random.Random(seed).shuffle(self.examples)
        self.next = 0

    def __call__(self, batch: list[dict]) -> dict:
        padded = self.pad(batch)
        if self.rows and self.examples:
            picked = [self.examples[(self.next + i) % len(self.examples)] for i in range(self.rows)]
            self.next = (self.next + self.rows) % len(self.examples)
            padded["replay"] = self.pad(picked)
        return padded
