"""Knowledge retention: a built-in probe of easy general-knowledge questions (English and Japanese),
answered greedily by the base model and by the persona, and a quick subset asked during training.

Both sides get the same neutral system prompt, so the probe measures what the adapter's weights
changed, not what the persona's prompt asks for.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from pathlib import Path

from studio.chat_format import chat_messages
from studio.chat.generate import BASE_ADAPTER
from studio.evaluation.generate import eval_settings, generate

PROBE_FILE = Path(__file__).with_name("probe.json")
PROBE_SYSTEM = "You are a helpful assistant. Answer the question in a few words."
PROBE_TOKENS = 16  # answers are a few words; the rest would be padding the batch waits for


@functools.cache
def questions(quick: bool = False) -> tuple[dict, ...]:
    data = json.loads(PROBE_FILE.read_text(encoding="utf-8"))["questions"]
    return tuple(q for q in data if q["quick"] or not quick)


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


KANJI = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005"  # CJK ideographs and the repeat mark 々


def is_correct(reply: str, answers: list[str]) -> bool:
    """Whether the reply contains an expected answer. Latin/digit answers must stand as whole words
    ('7' is not found in '17'); Japanese answers are found anywhere (no spaces between words), except
    that a one-character answer must stand apart from other kanji (青 in 青です, not in 青森), so that
    word salad does not score by chance."""
    folded = fold(reply)
    for answer in answers:
        answer = fold(answer)
        if re.fullmatch(r"[a-z0-9 .\-]+", answer):
            if re.search(rf"(?<![a-z0-9]){re.escape(answer)}(?![a-z0-9])", folded):
                return True
        elif len(answer) == 1:
            if re.search(rf"(?<![{KANJI}]){re.escape(answer)}(?![{KANJI}])", folded):
                return True
        elif answer in folded:
            return True
    return False


def score(replies: list[str], asked: tuple[dict, ...] | list[dict]) -> list[bool]:
    return [is_correct(reply, q["answers"]) for reply, q in zip(replies, asked)]


def _chats(asked) -> list[list[dict]]:
    return [chat_messages(PROBE_SYSTEM, q["question"]) for q in asked]


def run_probe(model, tokenizer, adapter: str | None, batch_size: int = 80) -> dict:
    """Base against persona on every question, in one set of batches. Returns the per-question table,
    both accuracies, and the questions the base model answered right and the persona lost."""
    asked = questions()
    chats = _chats(asked)
    replies = generate(model, tokenizer, chats + chats, [BASE_ADAPTER] * len(asked) + [adapter] * len(asked),
                       eval_settings(PROBE_TOKENS), batch_size=batch_size)
    base_replies, persona_replies = replies[:len(asked)], replies[len(asked):]
    base_ok, persona_ok = score(base_replies, asked), score(persona_replies, asked)
    rows = [{"id": q["id"], "lang": q["lang"], "question": q["question"], "expected": q["answers"][0],
             "base": b, "persona": p, "base_correct": bo, "persona_correct": po}
            for q, b, p, bo, po in zip(asked, base_replies, persona_replies, base_ok, persona_ok)]
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    known = [r for r in rows if r["base_correct"]]
    kept = [r for r in known if r["persona_correct"]]
    by_lang = {}
    for lang in sorted({r["lang"] for r in rows}):
        part = [r for r in rows if r["lang"] == lang]
        by_lang[lang] = {"questions": len(part), "base_correct": sum(r["base_correct"] for r in part),
                         "persona_correct": sum(r["persona_correct"] for r in part)}
    return {
        "questions": n, "base_correct": len(known), "persona_correct": sum(r["persona_correct"] for r in rows),
        "base_accuracy": round(len(known) / n, 4) if n else None,
        "persona_accuracy": round(sum(r["persona_correct"] for r in rows) / n, 4) if n else None,
        "kept": len(kept), "known": len(known),
        "lost": [r["id"] for r in known if not r["persona_correct"]],
        "gained": [r["id"] for r in rows if r["persona_correct"] and not r["base_correct"]],
        "by_language": by_lang, "rows": rows,
    }


def accuracy_by_language(model, tokenizer, langs: list[str] | None = None, adapter: str | None = BASE_ADAPTER,
                         batch_size: int = 80) -> dict:
    """The model's own greedy answers to the probe's questions in `langs` (all: None), without the persona:
    {lang: {"questions": n, "correct": k, "accuracy": k / n}}. Used before training (studio.evaluation.fit)."""
    asked = tuple(q for q in questions() if langs is None or q["lang"] in langs)
    if not asked:
        return {}
    replies = generate(model, tokenizer, _chats(asked), [adapter] * len(asked), eval_settings(PROBE_TOKENS),
                       batch_size=batch_size)
    result = {}
    for q, ok in zip(asked, score(replies, asked)):
        part = result.setdefault(q["lang"], {"questions": 0, "correct": 0})
        part["questions"] += 1
        part["correct"] += int(ok)
    for part in result.values():
        part["accuracy"] = round(part["correct"] / part["questions"], 4)
    return result


def quick_accuracy(model, tokenizer) -> float:
    """Accuracy of the model as it is (its active adapter) on the quick subset; used during training."""
    asked = questions(quick=True)
    replies = generate(model, tokenizer, _chats(asked), [None] * len(asked), eval_settings(PROBE_TOKENS),
                       batch_size=len(asked))
    return round(sum(score(replies, asked)) / len(asked), 4)

