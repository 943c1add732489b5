"""Per-row decoding for one batched `generate`: every row (chat pane) keeps its own sampling settings,
its own seed, its own token limit and its own stream of text.

`RowSampler` runs transformers' own logits processors (repetition penalty, no-repeat n-grams, then
temperature, top-k, top-p) on each row separately, in the order `generate` applies them, and draws the
row's token with the row's own `torch.Generator`. It returns scores that are finite only at the chosen
token, so `generate` runs in greedy mode and simply takes it. A row therefore produces exactly the
tokens a batch of one would produce with `torch.manual_seed(seed)` and `do_sample=True`: the same
processors, the same `torch.multinomial` draw, the same random stream.
"""

from __future__ import annotations

import queue
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


class RowSampler(LogitsProcessor):
    def __init__(self, settings: list[GenerationConfig], starts: list[int], seeds: list[int]):
        self.rows = []
        for s, start, seed in zip(settings, starts, seeds):
            penalties, warpers = row_processors(s)
            self.rows.append(_Row(start, penalties, warpers, torch.Generator().manual_seed(seed)))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        chosen = torch.full_like(scores, float("-inf"))
        for i, row in enumerate(self.rows):
            ids, row_scores = input_ids[i:i + 1, row.start:], scores[i:i + 1]
            row_scores = row.penalties(ids, row_scores)
            if row.warpers is None:
                token = int(row_scores.argmax(dim=-1))
            else:
                probs = torch.softmax(row.warpers(ids, row_scores), dim=-1)
                token = int(torch.multinomial(probs, num_samples=1, generator=row.generator))
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
    """Splits the batch's new tokens by row; iterating yields the list of every row's text so far.

    A row ends at an end token or at its own limit (later tokens of a finished row are padding)."""

    def __init__(self, tokenizer, limits: list[int], end_ids: set[int], timeout: float = 300, on_step=None):
        self.tokenizer, self.limits, self.end_ids, self.timeout = tokenizer, limits, end_ids, timeout
        self.on_step = on_step  # called with every row's text after each step (instead of queueing it)
        self.tokens: list[list[int]] = [[] for _ in limits]
        self.done = [False] * len(limits)
        self._prompt_seen = False
        self._queue: queue.Queue = queue.Queue()

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
        (self.on_step or self._queue.put)(self.texts())

    def end(self) -> None:
        self._queue.put(None)

    def texts(self) -> list[str]:
        # a multi-byte character split across tokens shows as U+FFFD until its last byte arrives
        return [self.tokenizer.decode(t, skip_special_tokens=True).rstrip("\ufffd") for t in self.tokens]

    def __iter__(self):
        while True:
            item = self._queue.get(timeout=self.timeout)
            if item is None:
                return
            yield item
