"""The publish gate's sampling: what the persona says, checked before it is pushed or exported.

`run_gate(name)` asks the persona a fixed, seeded prompt set (studio.evaluation.prompts, in the languages of its
posts; sampled as the evaluation samples) and runs the extraction test (studio.evaluation.extraction: the first
`prefix_tokens` tokens of a seeded sample of training posts, continued greedily, base model beside it). Every
reply and continuation is checked for private data (studio.clean.scrub_log.private_hits) and copies of training
posts (studio.evaluation.memorisation.CopyDetector); after `forget`, for the removed posts too. The rules and the
record are studio.persona.gate's; the record goes into persona.json (`gate`) and the model card.

`push_gated` and `export_gated` are what the CLI and the UI call: the gate (reusing a fresh record), then the
push or export, which checks the record again.
"""

from __future__ import annotations

import contextlib
import time

from studio.chat_format import chat_messages
from studio.clean.scrub_log import known_numbers, private_hits
from studio.errors import PersonaError
from studio.evaluation.extraction import extraction_rates
from studio.evaluation.generate import eval_settings, generate
from studio.evaluation.memorisation import CopyDetector, copy_rate
from studio.evaluation.prompts import choose_prompts, language_shares
from studio.files import read_jsonl
from studio.persona.card import write_card
from studio.persona.gate import GateConfig, decide, fresh_record, override
from studio.persona.registry import Persona, PersonaRegistry


def _session(persona: Persona, model, tokenizer):
    if model is None:
        from studio.chat.engine import get_engine

        return get_engine(persona.base_model.get("spec")).exclusive(persona)
    adapter = model.active_adapter if isinstance(model.active_adapter, str) else model.active_adapters[0]
    return contextlib.nullcontext((model, tokenizer, adapter))


def _samples(persona: Persona, rows: list[dict], forgotten: list[str], config: GateConfig, model, tokenizer) -> dict:
    """The replies (with their prompts), the extraction figures and continuations, and those of forgotten posts."""
    posts = [r["text"] for r in rows]
    with _session(persona, model, tokenizer) as (model, tokenizer, adapter):
        prompts = choose_prompts(config.prompts, config.seed, language_shares(rows))
        chats = [chat_messages(persona.system_prompt, text) for _, text in prompts]
        replies = generate(model, tokenizer, chats, [adapter] * len(chats),
                           eval_settings(config.max_new_tokens, config.temperature), config.seed)
        continuations, forgotten_continuations = [], []
        extraction = (extraction_rates(model, tokenizer, posts, adapter, config.extraction_posts, config.seed,
                                       prefixes=(config.prefix_tokens,), continuations=continuations)
                      if config.extraction_posts else {})
        if forgotten:
            extraction_rates(model, tokenizer, forgotten, adapter, 0, config.seed, prefixes=(config.prefix_tokens,),
                             continuations=forgotten_continuations)
    return {"prompts": [text for _, text in prompts], "replies": replies, "continuations": continuations,
            "extraction": extraction.get(str(config.prefix_tokens)) or {}, "forgotten": forgotten_continuations}


def _findings(persona: Persona, rows: list[dict], forgotten: list[str], sampled: dict) -> list[dict]:
    """The offending samples: private data, copies, word-for-word continuations, forgotten posts reproduced."""
    posts = [r["text"] for r in rows]
    log, names = persona.data.get("scrubbed"), (persona.data.get("config") or {}).get("scrub_names") or []
    numbers = known_numbers(posts)
    detector, forgetting = CopyDetector(posts), CopyDetector(forgotten) if forgotten else None
    found = []
    samples = [(r, "reply to " + repr(p), None) for p, r in zip(sampled["prompts"], sampled["replies"])]
    samples += [(c["text"], f"continuation of the first {c['k']} tokens of a post", c["post"]) for c in sampled["continuations"]]
    samples += [(c["text"], f"continuation of the first {c['k']} tokens of a forgotten post", c["post"]) for c in sampled["forgotten"]]
    for text, where, post in samples:
        for hit in private_hits(text, log, names, numbers):
            holder = post or next((p for p in posts if hit["value"] in p), None)
            found.append({"kind": "private", "text": text, "where": where, "value": hit["value"], "why": hit["why"], "post": holder})
    for prompt, reply in zip(sampled["prompts"], sampled["replies"]):
        check = detector.check(reply)
        if check["copied"]:
            found.append({"kind": "copy", "text": reply, "where": f"reply to {prompt!r}", "post": check["nearest"],
                          "why": ", ".join(check["reasons"])})
        if forgetting is not None and forgetting.check(reply)["copied"]:
            found.append({"kind": "forgotten", "text": reply, "where": f"reply to {prompt!r}",
                          "post": forgetting.check(reply)["nearest"], "why": "copies a forgotten post"})
    for c in sampled["continuations"]:
        if c["extracted"]:
            found.append({"kind": "extracted", "text": c["text"], "where": f"continuation of the first {c['k']} tokens",
                          "post": c["post"], "why": "continues the training post word for word"})
    for c in sampled["forgotten"]:
        if c["extracted"]:
            found.append({"kind": "forgotten", "text": c["text"], "where": f"continuation of the first {c['k']} tokens",
                          "post": c["post"], "why": "continues a forgotten post word for word"})
    return found


def _figures(sampled: dict, found: list[dict], forgotten: list[str], checks: list[dict], prefix: int, seconds: float) -> dict:
    extraction = sampled["extraction"]
    rate, base = extraction.get("persona"), extraction.get("base")
    return {"samples": len(sampled["replies"]) + len(sampled["continuations"]) + len(sampled["forgotten"]),
            "private_hits": sum(o["kind"] == "private" for o in found), "replies": len(checks),
            "copied": sum(c["copied"] for c in checks), "copy_rate": copy_rate(checks),
            "extraction_rate": rate, "extraction_base": base, "prefix_tokens": prefix,
            "extraction_excess": round(rate - base, 4) if rate is not None and base is not None else None,
            "extraction_tested": extraction.get("posts", 0), "extraction_skipped": extraction.get("skipped", 0),
            "forgotten_posts": len(forgotten), "forgotten_hits": sum(o["kind"] == "forgotten" for o in found),
            "seconds": round(seconds, 2)}


def run_gate(name: str, config: GateConfig | None = None, registry: PersonaRegistry | None = None, force: bool = False,
             reason: str = "", forgotten: list[str] | None = None, model=None, tokenizer=None) -> dict:
    """Sample and check persona `name` (or `NAME@vN`), store the record in its manifest and card, and return it.
    `forgotten`: posts removed by `forget`, which it must not reproduce. `force` with a `reason` records an override."""
    config, registry, forgotten = config or GateConfig(), registry or PersonaRegistry(), list(forgotten or [])
    if force:
        override({}, reason)  # no reason: refused before any work
    persona = registry.get(name)
    rows = read_jsonl(persona.path / "data" / "train.jsonl")
    if not rows:
        raise PersonaError(f"Persona {persona.slug!r} has no training posts in {persona.path / 'data'}: the gate compares "
                           "its replies with them. Train it again (an export without data cannot be checked).")
    started = time.perf_counter()
    sampled = _samples(persona, rows, forgotten, config, model, tokenizer)
    found = _findings(persona, rows, forgotten, sampled)
    checks = [CopyDetector([r["text"] for r in rows]).check(reply) for reply in sampled["replies"]]
    figures = _figures(sampled, found, forgotten, checks, config.prefix_tokens, time.perf_counter() - started)
    record = decide(persona, figures, found, config)
    if force and not record["passed"]:
        record = override(record, reason)
    return _store(persona, record, registry)


def _store(persona: Persona, record: dict, registry: PersonaRegistry) -> dict:
    updated = registry.update(persona.slug, gate=record)
    write_card(updated, registry)
    return record


def ensure_gate(name: str, force: bool = False, reason: str = "", config: GateConfig | None = None,
                registry: PersonaRegistry | None = None) -> dict:
    """The gate record for publishing `name` now: the stored one when it is fresh, else a new run; a refused
    record gets the override when `force` (with a reason)."""
    registry = registry or PersonaRegistry()
    persona = registry.get(name)
    record = fresh_record(persona)
    if record is not None and config is not None and record.get("config") != config.to_dict():
        record = None  # other settings asked for: check again
    if record is None:
        return run_gate(name, config, registry, force=force, reason=reason)
    if force and not record["passed"] and not record.get("override"):
        return _store(persona, override(record, reason), registry)
    return record


def push_gated(name: str, repo_id: str, token: str | None = None, private: bool = False, force: bool = False,
               reason: str = "", config: GateConfig | None = None, registry: PersonaRegistry | None = None) -> str:
    """Push through the gate: the cheap checks (repo name, adapter, consent, token) first, then the gate, then the push."""
    from studio.persona import hub

    registry = registry or PersonaRegistry()
    hub.preflight(registry.get(name), repo_id, token)
    ensure_gate(name, force, reason, config, registry)
    return hub.push(name, repo_id, token=token, private=private, registry=registry)


def export_gated(name: str, out=None, include_data: bool = True, force: bool = False, reason: str = "",
                 config: GateConfig | None = None, registry: PersonaRegistry | None = None):
    from studio.persona.share import export_zip

    registry = registry or PersonaRegistry()
    ensure_gate(name, force, reason, config, registry)
    return export_zip(name, out, include_data=include_data, registry=registry)


def character_card_gated(name: str, out=None, force: bool = False, reason: str = "", config: GateConfig | None = None,
                         registry: PersonaRegistry | None = None):
    """A Character Card V2 through the gate: the card quotes real posts as its examples, so it is publishing too."""
    from studio.persona.share import write_character_card

    registry = registry or PersonaRegistry()
    ensure_gate(name, force, reason, config, registry)
    return write_character_card(name, out, registry=registry)
