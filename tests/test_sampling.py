"""RowSampler's fast top-k draw (the evaluation's) samples from the same distribution as the exact draw
(transformers' processors, softmax over the vocabulary, multinomial), which chat uses."""

import pytest
import torch
from transformers import RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper

from studio.chat.config import GenerationConfig
from studio.chat.sampling import RowSampler, top_k_distribution

SETTINGS = GenerationConfig(temperature=0.7, top_k=10, top_p=1.0, repetition_penalty=1.3, no_repeat_ngram_size=0)


def expected_probs(ids: torch.Tensor, scores: torch.Tensor, settings: GenerationConfig) -> torch.Tensor:
    """What `generate(do_sample=True)` samples from: penalty, temperature, top-k, softmax over the vocabulary."""
    scores = RepetitionPenaltyLogitsProcessor(settings.repetition_penalty)(ids, scores)
    scores = TopKLogitsWarper(settings.top_k)(ids, TemperatureLogitsWarper(settings.temperature)(ids, scores))
    return torch.softmax(scores, dim=-1)


def planted_scores(vocab: int = 500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores whose 12 best tokens are spread over 0..2 (moderate probabilities), the rest far below;
    the conversation so far holds three of the best tokens, so the repetition penalty matters."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(1, vocab, generator=g) - 4
    best = torch.randperm(vocab, generator=g)[:12]
    scores[0, best] = torch.linspace(2, 0, 12)
    ids = torch.cat([best[[0, 3, 7]], torch.randint(0, vocab, (5,), generator=g)]).unsqueeze(0)
    return ids, scores


@pytest.mark.parametrize("seed", range(5))
def test_top_k_draw_has_the_exact_probabilities(seed):
    ids, scores = planted_scores(vocab=49152 if seed == 0 else 500, seed=seed)
    fast = RowSampler([SETTINGS], [0], [0], fast=True).rows[0]
    penalised = fast.penalties(ids, scores)
    probs, tokens = fast.distribution(ids, penalised)
    assert tokens is not None and tokens.shape[-1] == SETTINGS.top_k, "the top-k draw applies"
    full = torch.zeros_like(scores).scatter_(-1, tokens, probs)
    torch.testing.assert_close(full, expected_probs(ids, scores, SETTINGS), rtol=0, atol=1e-6)
    exact = RowSampler([SETTINGS], [0], [0]).rows[0]
    probs, tokens = exact.distribution(ids, penalised)
    assert tokens is None and torch.equal(probs, expected_probs(ids, scores, SETTINGS))


def test_a_tie_at_the_k_th_score_takes_the_exact_draw():
    scores = torch.tensor([[5.0, 4.0, 3.0, 3.0, 1.0, 0.0]])
    assert top_k_distribution(scores, 3) is None, "TopKLogitsWarper keeps both tokens tied third"
    assert top_k_distribution(scores, 6) is None, "k covers the vocabulary"
    probs, tokens = top_k_distribution(scores, 2)
    assert tokens.tolist() == [[0, 1]] and probs.sum().item() == pytest.approx(1.0)
    row = RowSampler([GenerationConfig(temperature=1.0, top_k=3, top_p=1.0, repetition_penalty=1.0)], [0], [0],
                     fast=True).rows[0]
    probs, tokens = row.distribution(torch.zeros(1, 1, dtype=torch.long), scores)
    assert tokens is None and (probs[0] > 0).tolist() == [True, True, True, True, False, False]


@pytest.mark.parametrize("fast", [True, False])
def test_draws_follow_the_warped_softmax(fast):
    """10 000 draws (2 000 rows with their own seeds, 5 steps): a chi-square test against the probabilities
    generate samples from, and never a token outside the top k."""
    ids, scores = planted_scores()
    rows, steps = 2000, 5
    sampler = RowSampler([SETTINGS] * rows, [0] * rows, list(range(rows)), fast=fast)
    counts = torch.zeros(scores.shape[-1])
    for _ in range(steps):
        chosen = sampler(ids.expand(rows, -1), scores.expand(rows, -1).clone())
        assert bool((chosen == 0).sum(dim=-1).eq(1).all()), "one finite score per row"
        counts += (chosen == 0).sum(dim=0).float()
    expected = expected_probs(ids, scores, SETTINGS)[0] * rows * steps
    support = expected > 0
    assert int(support.sum()) == SETTINGS.top_k and counts[~support].sum() == 0
    assert expected[support].min() > 50, "enough draws per token for the chi-square test"
    chi2 = float(((counts[support] - expected[support]) ** 2 / expected[support]).sum())
    assert chi2 < 27.88, f"chi-square {chi2:.1f} over 9 degrees of freedom (p < 0.001)"
