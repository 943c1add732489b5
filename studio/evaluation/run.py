"""Evaluate a persona: does it sound like them, does it copy them, did it forget what it knew?

    evaluate_persona(name) -> dict, stored in persona.json under "evaluation"

1. held-out loss and perplexity on the persona's validation posts, base model against persona;
2. style: a seeded set of prompts in the posts' languages (studio.evaluation.prompts) answered by the base model and the persona
   (both with the persona's system prompt), compared with held-out real posts by sentence-embedding
   similarity and by interpretable statistics (studio.evaluation.style);
3. memorisation: the share of replies that copy a training post, each beside its nearest training post;
4. knowledge retention: the built-in probe, base model against persona (studio.evaluation.probe);
5. a summary line, verdicts with thresholds, and a markdown section (studio.evaluation.report).

The model is the shared chat engine's (one base model, the adapter switched per row), or the model
`train_persona` has just trained, so evaluation after training loads nothing again.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time

from studio.evaluation.config import EvalConfig
from studio.chat_format import chat_messages
from studio.errors import PersonaError
from studio.events import EVALUATE, STAGE_DONE, EvaluateEvent, Progress, ignore
from studio.evaluation import discriminator, extraction, facts, habits, memorisation, probe, report, style
from studio.chat.memory import system_prompter
from studio.chat.generate import BASE_ADAPTER
from studio.evaluation.generate import eval_settings, generate, held_out_loss
from studio.evaluation.prompts import asked_in, choose_prompts, language_shares
from studio.files import read_jsonl, utc_now
from studio.persona.registry import Persona, PersonaRegistry

log = logging.getLogger(__name__)

STAGES = ("loss", "replies", "probe", "facts", "extraction", "style", "memorisation")
def _read_rows(persona: Persona, split: str) -> list[dict]:
    return read_jsonl(persona.path / "data" / f"{split}.jsonl")


def _sample(texts: list[str], limit: int, seed: int) -> list[str]:
    if not limit or len(texts) <= limit:
        return list(texts)
    return random.Random(seed).sample(texts, limit)


def evaluate_persona(name: str, config: EvalConfig | None = None, registry: PersonaRegistry | None = None,
                     progress: Progress | None = None, model=None, tokenizer=None) -> dict:
    """Evaluate persona `name`, store the result in its manifest (`evaluation`) and return it.

    `progress` gets an evaluate event (studio.events) before each stage and when all are done. Pass `model`
    (a PeftModel with the persona's adapter active) and `tokenizer` to reuse a model already loaded."""
    config = config or EvalConfig()
    registry = registry or PersonaRegistry()
    emit = progress or ignore
    persona = registry.get(name)
    train_rows = _read_rows(persona, "train")
    train_posts, validation_posts = [r["text"] for r in train_rows], [r["text"] for r in _read_rows(persona, "validation")]
    if not train_posts:
        raise PersonaError(f"Persona {persona.slug!r} has no training posts in {persona.path / 'data'}; "
                           "evaluation compares replies with them. Train it again.")
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def stage(name_: str):
        emit(EvaluateEvent(event=EVALUATE, stage=name_, done=STAGES.index(name_), total=len(STAGES)))
        timings[name_] = time.perf_counter()

    def stage_end(name_: str):
        timings[name_] = round(time.perf_counter() - timings[name_], 2)

    reference = ("held-out validation posts" if len(validation_posts) >= 2 else
                 "training posts (too few held-out posts: style figures are optimistic)")
    result: dict = {"version": 1, "created_at": utc_now(), "config": config.to_dict(), "reference": reference}

    load_started = time.perf_counter()
    with _session(persona, model, tokenizer) as (model, tokenizer, adapter):
        timings["load"] = round(time.perf_counter() - load_started, 2)
        stage("loss")
        result["loss"] = _held_out_losses(model, tokenizer, adapter, persona, validation_posts, config)
        stage_end("loss")

        stage("replies")
        shares = language_shares(train_rows)
        prompts = choose_prompts(config.prompts, config.seed, shares)
        result["languages"] = asked_in(shares, prompts)
        system = system_prompter(persona, config.memory_k if config.memory else 0)  # with memory: their posts after it
        chats = [chat_messages(system(text), text) for _, text in prompts]
        replies = generate(model, tokenizer, chats + chats, [BASE_ADAPTER] * len(chats) + [adapter] * len(chats),
                           eval_settings(config.max_new_tokens, config.temperature), config.seed, config.batch_size * 2)
        base_replies, persona_replies = replies[:len(chats)], replies[len(chats):]
        stage_end("replies")

        stage("probe")
        result["knowledge"] = probe.run_probe(model, tokenizer, adapter, batch_size=max(config.batch_size * 2, 2 * len(probe.questions()))) if config.probe else None
        stage_end("probe")

        stage("facts")
        result["facts"] = facts.ask_facts(model, tokenizer, persona, adapter, config.memory_k if config.memory else 0)
        stage_end("facts")

        stage("extraction")
        result["extraction"] = extraction.extraction_rates(model, tokenizer, train_posts, adapter, config.extraction_posts,
                                                           config.seed) if config.extraction_posts else None
        stage_end("extraction")

    stage("style")
    real = _sample(validation_posts or train_posts, config.reference_posts, config.seed)
    result["style"] = _style(base_replies, persona_replies, real, config.seed)
    if result["style"]["similarity"] is None:
        result.setdefault("warnings", []).append(
            f"Style similarity skipped: the embedding model is not installed ({style.INSTALL_EMBEDDER})"
            if style.embedder_dir() is None else "Style similarity skipped: fewer than 2 real posts to compare with.")
    stage_end("style")

    stage("memorisation")
    result["memorisation"], result["samples"] = _memorisation(train_posts, prompts, base_replies, persona_replies)
    stage_end("memorisation")

    _store(result, persona, registry, started, timings)
    emit(EvaluateEvent(event=EVALUATE, stage=STAGE_DONE, done=len(STAGES), total=len(STAGES), summary=result["summary"]))
    log.info("Evaluated %s in %.1f s: %s", persona.slug, result["seconds"], result["summary"])
    return result


def _session(persona: Persona, model, tokenizer):
    """(model, tokenizer, adapter) for the evaluation: the model given, with its active adapter, or else
    the chat engine's model and adapter, shared with the chat panes (no chat batch runs meanwhile)."""
    if model is None:
        from studio.chat.engine import get_engine

        return get_engine(persona.base_model.get("spec")).exclusive(persona)
    adapter = model.active_adapter if isinstance(model.active_adapter, str) else model.active_adapters[0]
    return contextlib.nullcontext((model, tokenizer, adapter))


def _held_out_losses(model, tokenizer, adapter: str, persona: Persona, validation_posts: list[str],
                     config: EvalConfig) -> dict | None:
    """Loss and perplexity on (a sample of) the validation posts, base model against persona."""
    if not validation_posts:
        return None
    max_length = int(persona.train.get("max_length") or 256)
    scored = _sample(validation_posts, config.loss_posts, config.seed)
    return {
        side: held_out_loss(model, tokenizer, scored, persona.system_prompt, which, max_length, config.seed)
        for side, which in (("base", BASE_ADAPTER), ("persona", adapter))
    }


def _style(base_replies: list[str], persona_replies: list[str], real: list[str], seed: int = 0) -> dict:
    """Character n-gram distance and discriminator AUC (any language), embedding similarity (English-only;
    None without the embedding model) and statistics of the replies and the real posts."""
    groups = {"base": base_replies, "persona": persona_replies, "real": real}
    sides = {"base": base_replies, "persona": persona_replies}
    return {
        "ngram": discriminator.ngram_distance(sides, real, seed),
        "discriminator": discriminator.discriminate(sides, real, seed=seed),
        "habits": habits.habits(groups, seed),
        "similarity": style.similarity(sides, real),
        "stats": {k: style.text_stats(v) for k, v in groups.items()},
        "lengths": {k: style.length_histogram(v) for k, v in groups.items()},
        "words": style.characteristic_words(groups),
    }


def _memorisation(train_posts: list[str], prompts: list[tuple[str, str]], base_replies: list[str],
                  persona_replies: list[str]) -> tuple[dict, list[dict]]:
    """The copy rates of both sides, and each prompt's sample: both replies, the persona's nearest training post."""
    detector = memorisation.CopyDetector(train_posts)
    persona_checks = [detector.check(r) for r in persona_replies]
    base_checks = [detector.check(r) for r in base_replies]
    figures = {
        "replies": len(persona_checks), "copied": sum(c["copied"] for c in persona_checks),
        "copy_rate": memorisation.copy_rate(persona_checks), "base_copy_rate": memorisation.copy_rate(base_checks),
        "training_posts": len(train_posts),
    }
    samples = [
        {"lang": lang, "prompt": text, "persona": p, "base": b, "copied": c["copied"], "reasons": c["reasons"],
         "nearest": c["nearest"], "longest_common": c["longest_common"], "jaccard": c["jaccard"]}
        for (lang, text), p, b, c in zip(prompts, persona_replies, base_replies, persona_checks)
    ]
    return figures, samples


def _store(result: dict, persona: Persona, registry: PersonaRegistry, started: float, timings: dict[str, float]) -> None:
    """Verdicts, summary line, time taken and markdown added to `result`, which goes into the persona's manifest."""
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["timings"] = timings
    report.finish(result)
    registry.update(persona.slug, evaluation=result)
