"""Per-row decoding for one batched `generate`: every row (chat pane, evaluation prompt) keeps its own
sampling settings, its own seed, its own token limit and its own text.

`RowSampler` runs transformers' own logits processors (repetition penalty, no-repeat n-grams, then
temperature, top-k, top-p) on each row separately, in the order `generate` applies them, and draws the
row's token with the row's own `torch.Generator`. It returns scores that are finite only at the chosen
token, so `generate` runs in greedy mode and simply takes it. A row therefore produces exactly the
tokens a batch of one would produce with `torch.manual_seed(seed)` and `do_sample=True`: the same
processors, the same `torch.multinomial` draw, the same random stream. Chat relies on that.

`RowSampler(..., fast=True)` (the evaluation's choice) draws a row with top-k and no top-p (top_p 1)
among its k best tokens only: softmax of the same warped scores over those k tokens, which is the
distribution TopKLogitsWarper + softmax + multinomial samples from (every other token has probability
0), so the same distribution but not the same tokens as `generate` for a seed (tests/test_sampling.py
checks both). `torch.multinomial` over the whole vocabulary draws one exponential per token: 0.8 ms a
row and a step for SmolLM2's 49k tokens on one core, the exact sampler 33 ms a step for 32 rows; the
top-k draw 5 ms. When the k-th best score ties the next one (TopKLogitsWarper keeps every tied token),
the row takes the exact draw.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    StoppingCriteria,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.generation.streamers import BaseStreamer

from studio.chat.config import GenerationConfig


@dataclass
class _Row:
    start: int  # index of the row's first real token (after left padding)
    penalties: LogitsProcessorList
    warpers: LogitsProcessorList | None  # None: greedy
    generator: torch.Generator
    fast_k: int = 0  # > 0: the top-k draw among this many tokens, after `before_top_k` (the temperature)
    before_top_k: LogitsProcessorList | None = None

    def distribution(self, ids: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(probabilities, their token ids) of a sampling row, after its penalties; ids None: the whole vocabulary."""
        found = top_k_distribution(self.before_top_k(ids, scores), self.fast_k) if self.fast_k else None
        return found or (torch.softmax(self.warpers(ids, scores), dim=-1), None)


def row_processors(settings: GenerationConfig) -> tuple[LogitsProcessorList, LogitsProcessorList | None]:
    """The processors `generate` would build for these settings alone (see GenerationMixin._get_logits_processor)."""
    penalties = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        penalties.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
    if settings.no_repeat_ngram_size > 0:
        penalties.append(NoRepeatNGramLogitsProcessor(settings.no_repeat_ngram_size))
    if not settings.sampling:
        return penalties, None
    warpers = LogitsProcessorList()
    if settings.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(settings.temperature))
    if settings.top_k:
        warpers.append(TopKLogitsWarper(top_k=settings.top_k))
    if settings.top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p=settings.top_p))
    return penalties, warpers


def top_k_distribution(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """softmax over the k best of one row's warped scores (1, vocab), and their token ids; None when that is
    not what TopKLogitsWarper keeps: the k-th best score ties the next one, or k covers the vocabulary."""
    if k >= scores.shape[-1]:
        return None
    values, indices = scores.topk(k + 1, dim=-1)
    if values[0, k] == values[0, k - 1]:
        return None
    return torch.softmax(values[:, :k], dim=-1), indices[:, :k]


def _fast_k(settings: GenerationConfig) -> int:
    return settings.top_k if settings.sampling and settings.top_k and settings.top_p >= 1.0 else 0


class RowSampler(LogitsProcessor):
    """`fast`: rows with top-k and top_p 1 take the top-k draw (same distribution, see the module docstring)."""

    def __init__(self, settings: list[GenerationConfig], starts: list[int], seeds: list[int], fast: bool = False):
        self.rows = []
        for s, start, seed in zip(settings, starts, seeds):
            penalties, warpers = row_processors(s)
            fast_k = _fast_k(s) if fast else 0
            before = LogitsProcessorList([w for w in warpers if not isinstance(w, TopKLogitsWarper)]) if fast_k else None
            self.rows.append(_Row(start, penalties, warpers, torch.Generator().manual_seed(seed), fast_k, before))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        chosen = torch.full_like(scores, float("-inf"))
        for i, row in enumerate(self.rows):
            ids, row_scores = input_ids[i:i + 1, row.start:], scores[i:i + 1]
            row_scores = row.penalties(ids, row_scores)
            if row.warpers is None:
                token = int(row_scores.argmax(dim=-1))
            else:
                probs, tokens = row.distribution(ids, row_scores)
                token = int(torch.multinomial(probs, num_samples=1, generator=row.generator))
                token = token if tokens is None else int(tokens[0, token])
            chosen[i, token] = 0.0
        return chosen


class RowLimits(StoppingCriteria):
    """Each row stops at its own max_new_tokens, or when one of its events is set (Stop, or its caller left)."""

    def __init__(self, prompt_length: int, limits: list[int], stops: list[list[threading.Event]]):
        self.prompt_length, self.limits, self.stops = prompt_length, torch.tensor(limits), stops

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        stopped = torch.tensor([any(e.is_set() for e in events) for events in self.stops])
        return ((input_ids.shape[1] - self.prompt_length >= self.limits) | stopped).to(input_ids.device)


class RowStreamer(BaseStreamer):
    """Splits the batch's new tokens by row; `on_step` (if given) gets every row's text after each step.

    A row ends at an end token or at its own limit (later tokens of a finished row are padding)."""

    def __init__(self, tokenizer, limits: list[int], end_ids: set[int], on_step=None):
        self.tokenizer, self.limits, self.end_ids, self.on_step = tokenizer, limits, end_ids, on_step
        self.tokens: list[list[int]] = [[] for _ in limits]
        self.done = [False] * len(limits)
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate's first call is the prompt
            self._prompt_seen = True
            return
        for i, token in enumerate(value.reshape(-1).tolist()):
            if self.done[i]:
                continue
            if token in self.end_ids:
                self.done[i] = True
                continue
            self.tokens[i].append(token)
            self.done[i] = len(self.tokens[i]) >= self.limits[i]
        if self.on_step is not None:
            self.on_step(self.texts())

    def end(self) -> None:
        pass

    def texts(self) -> list[str]:
        # a multi-byte character split across tokens shows as U+FFFD until its last byte arrives
        return [self.tokenizer.decode(t, skip_special_tokens=True).rstrip("\ufffd") for t in self.tokens]
