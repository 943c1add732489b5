"""The persona's own facts (studio.persona.facts), asked greedily of the base model and of the persona.

Each question is asked in two formats, since the seed study's answers changed with the format:
- chat: the persona's system prompt and the question as the user's turn, through the chat template;
- plain: raw text, no chat template: "Question: ...\\nAnswer:" continued as it is (cut at a next "Question:").
A reply is right when it contains one of the fact's answers (the probe's `is_correct`). A fact counts as
known (`base_known`, `persona_known`) when it is answered right in both formats: an answer that comes only
in one format depends on the prompt, not on what the model knows. `by_format` gives each format alone.
With memory (EvalConfig.memory) both formats get the persona's most relevant posts first (studio.chat.memory).

    result["facts"] = {"asked", "base_known", "persona_known", "by_format": {"chat": {...}, "plain": {...}},
                       "memory", "rows": [{"question", "answers", "format", "base", "persona", ...}]}
"""

from __future__ import annotations

from studio.chat.generate import BASE_ADAPTER
from studio.chat.memory import block, memory_for, system_prompter
from studio.chat_format import chat_messages
from studio.evaluation import report
from studio.evaluation.generate import eval_settings, generate
from studio.evaluation.probe import is_correct
from studio.persona.registry import Persona

FORMATS = ("chat", "plain")
PLAIN = "Question: {question}\nAnswer:"
FACT_TOKENS = 24  # answers are a few words (Japanese takes ~2 tokens a character)


def plain_prompt(question: str, memory: list[str] | None = None) -> str:
    """The plain instruction format: raw text, optionally after the memory block."""
    prompt = PLAIN.format(question=question)
    return f"{block(memory)}\n\n{prompt}" if memory else prompt


def _prompts(persona: Persona, memory_k: int) -> dict[str, list]:
    system = system_prompter(persona, memory_k)
    memory = memory_for(persona) if memory_k > 0 else None
    questions = [f["question"] for f in persona.facts]
    return {
        "chat": [chat_messages(system(q), q) for q in questions],
        "plain": [plain_prompt(q, memory.search(q, memory_k) if memory else None) for q in questions],
    }


def _cut(reply: str, fmt: str) -> str:
    return reply.split("Question:")[0].strip() if fmt == "plain" else reply


def ask_facts(model, tokenizer, persona: Persona, adapter: str | None, memory_k: int = 0, batch_size: int = 64) -> dict | None:
    """Every fact in both formats, base rows and persona rows in one set of batches; None without facts."""
    facts = list(persona.facts or [])
    if not facts:
        return None
    prompts = _prompts(persona, memory_k)
    asked = [p for fmt in FORMATS for p in prompts[fmt]]
    replies = generate(model, tokenizer, asked + asked, [BASE_ADAPTER] * len(asked) + [adapter] * len(asked),
                       eval_settings(FACT_TOKENS), batch_size=batch_size)
    base, mine = replies[:len(asked)], replies[len(asked):]
    rows = []
    for j, fmt in enumerate(FORMATS):
        for i, fact in enumerate(facts):
            b, p = _cut(base[j * len(facts) + i], fmt), _cut(mine[j * len(facts) + i], fmt)
            rows.append({"question": fact["question"], "answers": fact["answers"], "format": fmt, "base": b, "persona": p,
                         "base_correct": is_correct(b, fact["answers"]), "persona_correct": is_correct(p, fact["answers"])})
    return summarise(rows, len(facts), memory_k)


def summarise(rows: list[dict], asked: int, memory_k: int = 0) -> dict:
    by_format = {fmt: {side: sum(r[f"{side}_correct"] for r in rows if r["format"] == fmt) for side in ("base", "persona")}
                 for fmt in FORMATS}
    both = {side: sum(all(r[f"{side}_correct"] for r in rows if r["question"] == q)
                      for q in dict.fromkeys(r["question"] for r in rows)) for side in ("base", "persona")}
    return {"asked": asked, "base_known": both["base"], "persona_known": both["persona"],
            "by_format": {fmt: {"base_known": v["base"], "persona_known": v["persona"]} for fmt, v in by_format.items()},
            "memory": memory_k, "rows": rows}


def refresh_facts(name: str, registry=None, memory_k: int = 0) -> dict | None:
    """Ask the persona's facts now and store the result in its stored evaluation (`evaluation.facts`),
    leaving the rest as it is (None, loading nothing, when it was never evaluated); for facts set after
    training (`train --facts`)."""
    from studio.chat.engine import get_engine
    from studio.persona.registry import PersonaRegistry

    registry = registry or PersonaRegistry()
    persona = registry.get(name)
    evaluation = persona.extra.get("evaluation")
    if not isinstance(evaluation, dict):
        return None  # never evaluated: the next evaluation asks them
    with get_engine(persona.base_model.get("spec")).exclusive(persona) as (model, tokenizer, adapter):
        found = ask_facts(model, tokenizer, persona, adapter, memory_k)
    registry.update(persona.slug, evaluation=report.finish({**evaluation, "facts": found}))
    return found
