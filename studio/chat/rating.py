"""Figures from votes: a rate with its Wilson interval, and a Bradley-Terry ranking from pairwise results.
Pure functions (numpy only): the real-or-bot page and the arena's blind votes feed them."""

from __future__ import annotations

import math
from collections import Counter

Z95 = 1.959963984540054
"""The normal quantile of a two-sided 95 % interval."""


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default); (0, 1) with no trials.

    Chosen over the normal approximation because it stays inside [0, 1] and is honest at small n and at
    rates near 0 or 1 (3 fooled of 3 gives 0.44-1.0, not 1.0-1.0)."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials ({trials}), got {successes}")
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    denominator = 1 + z * z / trials
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


def bradley_terry(pairs: list[tuple[str, str]], prior: float = 1.0, iterations: int = 2000,
                  tolerance: float = 1e-10) -> list[dict]:
    """Fit Bradley-Terry strengths to (winner, loser) pairs by Hunter's MM iteration; best first.

    P(i beats j) = s_i / (s_i + s_j). `prior` adds that many virtual games, half won and half lost, of each
    player against a virtual player of strength 1: it keeps an unbeaten (or never-winning) player finite
    and players with no games between them comparable, pulling thin evidence towards the middle. Each row:
    player, score (natural log of the strength; 0 = the virtual average player; a difference d means the
    better one wins with probability 1 / (1 + e^-d)), wins, games."""
    import numpy as np

    players = sorted({p for pair in pairs for p in pair})
    if not players:
        return []
    index = {p: i for i, p in enumerate(players)}
    n = len(players)
    games = np.zeros((n, n))
    wins = np.zeros(n)
    for winner, loser in pairs:
        if winner == loser:
            continue
        games[index[winner], index[loser]] += 1
        games[index[loser], index[winner]] += 1
        wins[index[winner]] += 1
    strength = np.ones(n)
    for _ in range(iterations):
        # MM update: s_i = W_i / sum_j n_ij / (s_i + s_j), with the prior's games against strength 1
        denominator = (games / (strength[:, None] + strength[None, :])).sum(axis=1) + prior / (strength + 1)
        updated = (wins + prior / 2) / denominator
        if np.max(np.abs(np.log(updated) - np.log(strength))) < tolerance:
            strength = updated
            break
        strength = updated
    played = Counter()
    for winner, loser in pairs:
        if winner != loser:
            played[winner] += 1
            played[loser] += 1
    rows = [{"player": p, "score": round(float(np.log(strength[index[p]])), 3), "wins": int(wins[index[p]]),
             "games": played[p]} for p in players]
    return sorted(rows, key=lambda r: (-r["score"], r["player"]))


def win_probability(score_a: float, score_b: float) -> float:
    """P(a beats b) under Bradley-Terry, from two scores of `bradley_terry`."""
    return 1 / (1 + math.exp(score_b - score_a))
