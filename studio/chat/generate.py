"""The one batched generation, for chat panes and the evaluation's prompts alike.

`generate_rows` runs ONE `model.generate` for a list of rows (chat messages, decoding settings, seed,
adapter): prompts left-padded, each row decoded by `RowSampler` with its own settings and seed, stopped
at its own token limit or stop events (`RowLimits`), its text collected (and streamed, with `on_step`)
by `RowStreamer`. Chat calls it from the engine's batch worker; the evaluation calls it on the engine's
model or, for the probe during training, on the Trainer's model.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from studio.chat.config import GenerationConfig
from studio.chat.sampling import RowLimits, RowSampler, RowStreamer
from studio.chat_format import render_chat

BASE_ADAPTER = "__base__"  # PEFT's adapter name for the bare model (adapters off) in `adapter_names`


@dataclass
class Prompt:
    """One row of a batch: the conversation so far as chat messages, and how to answer it."""

    messages: list[dict] | str | list[int]  # raw text or token ids are continued as they are (no chat template)
    settings: GenerationConfig = field(default_factory=GenerationConfig)
    seed: int = 0
    adapter: str | None = None  # a loaded adapter's name, BASE_ADAPTER for the bare model, None: the model as it is


def pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def end_ids(model, tokenizer) -> set[int]:
    """Tokens that end a reply: the tokenizer's end and padding tokens and the model's end tokens."""
    ends = model.generation_config.eos_token_id
    return {tokenizer.eos_token_id, pad_id(tokenizer), *(ends if isinstance(ends, list) else [ends])} - {None}


def prompt_ids(tokenizer, messages: list[dict] | str | list[int]) -> list[int]:
    """The prompt's tokens: chat messages through the chat template (ready for the reply); raw text (the
    evaluation's plain formats) and token ids (its extraction prefixes) as they are."""
    if isinstance(messages, str):
        return list(tokenizer(messages, add_special_tokens=False)["input_ids"])
    if messages and isinstance(messages[0], int):
        return list(messages)
    return list(tokenizer(render_chat(tokenizer, messages), add_special_tokens=False)["input_ids"])


def mixes_adapters(model) -> bool:
    """Whether rows of different adapters can share one forward pass (PEFT's per-row `adapter_names`): not
    with DoRA, which PEFT refuses there, so `generate_rows` then runs one adapter at a time."""
    return not any(getattr(c, "use_dora", False) for c in (getattr(model, "peft_config", None) or {}).values())


def peft_route(model) -> Callable[[list, dict], contextlib.AbstractContextManager]:
    """The default routing of `generate_rows` (and of the held-out loss): rows that all run the model as it is
    (None, or its active adapter) need nothing; all BASE_ADAPTER: the adapters off; a mix: PEFT's per-row
    `adapter_names` (None rows run the active adapter: the Trainer's model during training)."""
    def route(names: list, kwargs: dict):
        if not hasattr(model, "peft_config") or all(a is None for a in names):
            return contextlib.nullcontext()
        active = model.active_adapter if isinstance(model.active_adapter, str) else model.active_adapters[0]
        if set(names) <= {None, active}:
            return contextlib.nullcontext()
        if set(names) == {BASE_ADAPTER}:
            return model.disable_adapter()
        kwargs["adapter_names"] = [a or active for a in names]
        return contextlib.nullcontext()
    return route


def generate_rows(model, tokenizer, rows: list[Prompt], route=None, stops: list[list[threading.Event]] | None = None,
                  on_step: Callable[[list[str]], None] | None = None, fast_draw: bool = False) -> list[str]:
    """Answer every row with one batched `generate`; return each row's reply (special tokens dropped).

    `route(adapter names, generate kwargs)` returns the context the batch runs in (default `peft_route`;
    the chat engine passes its own: fused LoRA deltas, adapters off, one active adapter).
    `stops[i]`: events that end row i early; `on_step`: called with every row's text after each step;
    `fast_draw`: RowSampler's top-k draw (the same distribution; see studio.chat.sampling)."""
    if len({r.adapter for r in rows}) > 1 and not mixes_adapters(model):
        return _one_adapter_at_a_time(model, tokenizer, rows, route, stops, on_step, fast_draw)
    import torch
    from transformers import GenerationConfig as HFGenerationConfig
    from transformers import LogitsProcessorList, StoppingCriteriaList

    prompts = [prompt_ids(tokenizer, r.messages) for r in rows]
    width, pad, device = max(map(len, prompts)), pad_id(tokenizer), model.device
    starts = [width - len(p) for p in prompts]
    input_ids = torch.tensor([[pad] * s + p for s, p in zip(starts, prompts)], device=device)
    mask = torch.tensor([[0] * s + [1] * len(p) for s, p in zip(starts, prompts)], device=device)
    limits, ends = [r.settings.max_new_tokens for r in rows], end_ids(model, tokenizer)
    streamer = RowStreamer(tokenizer, limits, ends, on_step=on_step)
    config = HFGenerationConfig(max_new_tokens=max(limits), do_sample=False, pad_token_id=pad,
                                eos_token_id=sorted(ends), bos_token_id=tokenizer.bos_token_id)
    sampler = RowSampler([r.settings for r in rows], starts, [r.seed for r in rows], fast=fast_draw)
    kwargs = dict(input_ids=input_ids, attention_mask=mask, generation_config=config, streamer=streamer,
                  logits_processor=LogitsProcessorList([sampler]),
                  stopping_criteria=StoppingCriteriaList([RowLimits(width, limits, stops or [[] for _ in rows])]))
    with (route or peft_route(model))([r.adapter for r in rows], kwargs):
        model.generate(**kwargs)
    return streamer.texts()


def _one_adapter_at_a_time(model, tokenizer, rows: list[Prompt], route, stops, on_step, fast_draw) -> list[str]:
    """`generate_rows` for a model whose adapters cannot share a batch: one `generate` per adapter, in turn
    (each row's own seed and settings, so the same replies; a pane streams once the panes before it are done)."""
    texts = [""] * len(rows)
    for adapter in dict.fromkeys(r.adapter for r in rows):
        picked = [i for i, r in enumerate(rows) if r.adapter == adapter]

        def step(part: list[str], picked=picked):
            for i, text in zip(picked, part):
                texts[i] = text
            on_step(list(texts))

        replies = generate_rows(model, tokenizer, [rows[i] for i in picked], route,
                                [stops[i] for i in picked] if stops else None, step if on_step else None, fast_draw)
        for i, text in zip(picked, replies):
            texts[i] = text
    return texts
