"""Extraction rate: a tiny model made to memorise one post (a LoRA adapter trained on its raw text) gives
it back from its first k tokens; an unseen post of the same length is not extracted, nor by the base."""

from __future__ import annotations

import pytest

from studio.evaluation.extraction import PREFIXES, SUFFIX, extraction_rates
from tests.planted import memorising_adapter

MEMORISED = ("Tuesday log: repotted basil, fixed a squeaky door hinge, finally finished reading that long book about "
             "lighthouses my aunt lent me last winter, baked rye bread with caraway seeds, then walked our neighbour's "
             "grumpy beagle along the canal until sunset turned everything orange.")
UNSEEN = ("Friday note: the bakery on the corner started selling sourdough again, so the queue stretched past the "
          "bicycle shop before nine; I gave up, bought instant noodles, and spent the afternoon fixing my cousin's "
          "wobbly bookshelf with too many screws.")
SHORT = "Just a short one."


@pytest.fixture(scope="module")
def memorised(tiny_model_dir):
    """(model, tokenizer, adapter): the tiny Llama with a LoRA adapter that has learnt MEMORISED by heart."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tokenizer(MEMORISED, add_special_tokens=False)["input_ids"]
    model = memorising_adapter(tiny_model_dir, [(ids[:1], ids[1:])])
    return model, tokenizer, model.active_adapter


def test_extraction_finds_the_memorised_post_and_not_an_unseen_one(memorised):
    model, tokenizer, adapter = memorised
    for post in (MEMORISED, UNSEEN):
        assert len(tokenizer(post, add_special_tokens=False)["input_ids"]) >= max(PREFIXES) + SUFFIX
    for k in PREFIXES:
        alone = extraction_rates(model, tokenizer, [MEMORISED], adapter, prefixes=(k,))[str(k)]
        assert alone["persona"] == 1.0 and alone["base"] == 0.0 and alone["examples"] == [MEMORISED]
        other = extraction_rates(model, tokenizer, [UNSEEN], adapter, prefixes=(k,))[str(k)]
        assert other["persona"] == 0.0 and other["base"] == 0.0 and other["examples"] == []


def test_rates_per_prefix_and_short_posts_skipped_and_counted(memorised):
    model, tokenizer, adapter = memorised
    result = extraction_rates(model, tokenizer, [MEMORISED, UNSEEN, SHORT], adapter)
    assert list(result) == ["8", "16", "32"]
    for k in PREFIXES:
        row = result[str(k)]
        assert row["posts"] == 2 and row["skipped"] == 1  # SHORT has fewer than k + 16 tokens
        assert row["persona"] == 0.5 and row["persona_extracted"] == 1 and row["base"] == 0.0


def test_sample_is_seeded_and_nothing_to_test_gives_none(memorised):
    model, tokenizer, adapter = memorised
    posts = [MEMORISED, UNSEEN, SHORT] * 4
    assert extraction_rates(model, tokenizer, posts, adapter, sample=5, seed=3) == \
        extraction_rates(model, tokenizer, posts, adapter, sample=5, seed=3)
    empty = extraction_rates(model, tokenizer, [SHORT], adapter)
    assert empty["8"] == {"base": None, "persona": None, "posts": 0, "skipped": 1, "base_extracted": 0,
                          "persona_extracted": 0, "examples": []}
