"""How a batch's rows are laid out for one pass: padded rows, or one row with their shared opening once
(`one_row`, exact only where `one_row_is_exact`), and batches too big for one pass split into parts
(`split_batch`, by `pass_tokens`). The training step (studio.training.step) runs them."""

from __future__ import annotations

import inspect

import torch

ONE_ROW_TOKENS = 1024  # longest one row; attention's memory grows with the square of a row's length


def pass_tokens(batch: dict, as_one_row: bool = False) -> int:
    """The tokens that one pass over a right-padded batch computes: rows x longest row; `as_one_row` (the batch
    runs as `one_row`), the rows' lengths with the opening they all share counted once (an upper bound: the
    openings of groups of rows are counted per row), unless that is longer than one row may be."""
    lengths = batch["attention_mask"].sum(dim=1).tolist()
    padded = len(lengths) * max(lengths)
    if not as_one_row or len(lengths) < 2:
        return padded
    joined = sum(lengths) - (len(lengths) - 1) * _common(batch["input_ids"], list(range(len(lengths))), lengths)
    return joined if joined <= ONE_ROW_TOKENS else padded


def fits(batch: dict, max_tokens: int, as_one_row: bool = False) -> bool:
    """Whether one pass over a right-padded batch computes at most `max_tokens` tokens (`pass_tokens`); always when 0."""
    return not max_tokens or pass_tokens(batch, as_one_row) <= max_tokens


def split_batch(batch: dict, max_tokens: int, as_one_row: bool = False) -> list[dict]:
    """Rows of a right-padded batch grouped so that rows x longest row <= max_tokens (at least one row
    a part), each part cut to its own longest row. One part (the batch) when it fits or max_tokens is 0."""
    if fits(batch, max_tokens, as_one_row):
        return [batch]
    lengths = batch["attention_mask"].sum(dim=1).tolist()
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    parts, current = [], []
    for i in order:
        if current and (len(current) + 1) * lengths[current[0]] > max_tokens:
            parts.append(current)
            current = []
        current.append(i)
    parts.append(current)
    return [{key: value[rows][:, :lengths[rows[0]]] for key, value in batch.items()} for rows in parts]


def _common(ids, rows: list[int], lengths: list[int]) -> int:
    """How many leading tokens the rows `rows` of `ids` share (at most their shortest length)."""
    shortest = min(lengths[r] for r in rows)
    differs = (ids[rows, :shortest] != ids[rows[:1], :shortest]).any(dim=0).tolist() + [True]
    return differs.index(True)


def one_row(batch: dict, dtype: torch.dtype, max_tokens: int = ONE_ROW_TOKENS) -> dict | None:
    """The rows of a right-padded batch as one row: the opening that all rows share comes once, then, for
    each group of rows that go on sharing an opening (the posts' system prompt, where a replay row's differs),
    the group's opening once, then each row's rest, which attends to those openings and to itself only (a 4D
    mask, `dtype`'s minimum where it may not look), at the positions it has in its own row. Every row's tokens
    thus see exactly what they see in the batch, and so get the same hidden states, from fewer tokens and no
    padding: in a training example the shared opening is the chat markup and system prompt, a third of a short
    tweet's tokens. `where[r, t]` is the index in the one row of row r's token t (0 at padding). None when
    nothing is shared or the one row would be longer than `max_tokens`."""
    ids = batch["input_ids"]
    mask = batch.get("attention_mask")
    lengths = mask.sum(dim=1).tolist() if mask is not None else [ids.shape[1]] * len(ids)
    rows = list(range(len(ids)))
    shared = _common(ids, rows, lengths)
    if len(ids) < 2 or not shared:
        return None
    groups: dict[tuple, list[int]] = {}  # rows by their first token after the shared opening
    for r in rows:
        groups.setdefault(tuple(ids[r, shared:shared + 1].tolist()) if lengths[r] > shared else (r, "ends"), []).append(r)
    pieces, segments, positions = [ids[0, :shared]], [torch.full((shared,), -1)], [torch.arange(shared)]
    opening_of, where, start = {}, torch.zeros(ids.shape, dtype=torch.long), shared
    for g, members in enumerate(groups.values()):
        opening = _common(ids, members, lengths) if len(members) > 1 else shared
        pieces.append(ids[members[0], shared:opening])
        segments.append(torch.full((opening - shared,), -2 - g))
        positions.append(torch.arange(shared, opening))
        group_start, start = start, start + opening - shared
        for r in members:
            opening_of[r] = -2 - g
            pieces.append(ids[r, opening:lengths[r]])
            segments.append(torch.full((lengths[r] - opening,), r))
            positions.append(torch.arange(opening, lengths[r]))
            column = torch.arange(lengths[r])
            where[r, :lengths[r]] = torch.where(column < shared, column, torch.where(
                column < opening, group_start + column - shared, start + column - opening))
            start += lengths[r] - opening
    if start > max_tokens:
        return None
    segment = torch.cat(segments)
    parent = torch.tensor([opening_of.get(int(s), int(s)) for s in segment])  # a row's tokens: its group's opening
    token = torch.arange(len(segment))
    sees = (token[:, None] >= token[None, :]) & ((segment[None, :] == segment[:, None]) | (segment[None, :] == -1)
                                                 | (segment[None, :] == parent[:, None]))
    device = ids.device
    return {"input_ids": torch.cat(pieces)[None], "position_ids": torch.cat(positions)[None].to(device), "where": where.to(device),
            "attention_mask": torch.zeros(sees.shape, dtype=dtype).masked_fill_(~sees, torch.finfo(dtype).min)[None, None].to(device)}


def one_row_is_exact(config, width: int, decoder=None) -> bool:
    """Whether `one_row` gives this model the same hidden states as its rows `width` tokens wide: only sdpa
    and eager attention take a 4D mask as it is, the mask replaces a sliding window's, and each token's position
    must come from `position_ids` (a `decoder` whose forward takes none, or ALiBi biases built from the 2D mask
    as in Bloom, MPT and Falcon, would see the one row's positions)."""
    window = getattr(config, "sliding_window", None)
    if decoder is not None and "position_ids" not in inspect.signature(decoder.forward).parameters:
        return False
    alibi = getattr(config, "alibi", False) or getattr(getattr(config, "attn_config", None), "alibi", False)
    return config._attn_implementation in ("sdpa", "eager") and (not window or width <= window) and not alibi
