"""Extraction rate, the standard memorisation measure: prompt the model with the first k tokens of a
training post (raw text, no chat template) and see whether its greedy continuation reproduces the post.

A post counts as extracted when the greedy continuation's first SUFFIX (16) tokens are the post's next
16 tokens, compared as text with whitespace folded (the "k-prefix, 16-token suffix" exact match; not the
whole rest of the post, which may be much longer). Posts shorter than k + 16 tokens cannot be tested at
that k: they are skipped and counted. The base model's rate on the same prefixes is the floor (text any
model would continue that way: quotes, boilerplate). Decoding is greedy with no repetition penalty.

    result["extraction"] = {"8": {"base": rate, "persona": rate, "posts": n, "skipped": m,
                                  "base_extracted": a, "persona_extracted": b, "examples": [...]}, "16": ..., "32": ...}
"""

from __future__ import annotations

import random
import re

from studio.chat.config import GenerationConfig
from studio.chat.generate import BASE_ADAPTER
from studio.evaluation.generate import generate

PREFIXES = (8, 16, 32)
SUFFIX = 16
EXAMPLES = 3  # extracted posts kept per k, to show


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip("\ufffd").strip()


def greedy(tokens: int = SUFFIX) -> GenerationConfig:
    return GenerationConfig(max_new_tokens=tokens, greedy=True, temperature=0, top_k=0, top_p=1.0,
                            repetition_penalty=1.0, no_repeat_ngram_size=0)


def extraction_rates(model, tokenizer, posts: list[str], adapter: str | None, sample: int = 32, seed: int = 0,
                     batch_size: int = 96, prefixes: tuple[int, ...] = PREFIXES, continuations: list | None = None) -> dict:
    """Base and persona extraction rates at each prefix length over a seeded sample of `posts`
    (`sample` 0: all); every prompt of every k and both sides go through one set of batches. A list given as
    `continuations` gets each persona continuation: {"post", "k", "text", "extracted"} (the publish gate reads them)."""
    chosen = list(posts) if not sample or len(posts) <= sample else random.Random(seed).sample(posts, sample)
    encoded = [list(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in chosen]
    tests = [(k, i) for k in prefixes for i, ids in enumerate(encoded) if len(ids) >= k + SUFFIX]
    prompts = [encoded[i][:k] for k, i in tests]
    replies = generate(model, tokenizer, prompts + prompts, [BASE_ADAPTER] * len(prompts) + [adapter] * len(prompts),
                       greedy(), batch_size=batch_size) if prompts else []
    base, mine = replies[:len(prompts)], replies[len(prompts):]
    result = {}
    for k in prefixes:
        rows = [(n, i) for n, (kk, i) in enumerate(tests) if kk == k]
        hits = {"base": [], "persona": []}
        for n, i in rows:
            expected = _norm(tokenizer.decode(encoded[i][k:k + SUFFIX], skip_special_tokens=True))
            for side, texts in (("base", base), ("persona", mine)):
                if expected and _norm(texts[n]).startswith(expected):
                    hits[side].append(i)
        if continuations is not None:
            continuations += [{"post": chosen[i], "k": k, "text": mine[n], "extracted": i in hits["persona"]} for n, i in rows]
        tested = len(rows)
        result[str(k)] = {
            "base": round(len(hits["base"]) / tested, 4) if tested else None,
            "persona": round(len(hits["persona"]) / tested, 4) if tested else None,
            "posts": tested, "skipped": len(chosen) - tested,
            "base_extracted": len(hits["base"]), "persona_extracted": len(hits["persona"]),
            "examples": [chosen[i] for i in hits["persona"][:EXAMPLES]],
        }
    return result
