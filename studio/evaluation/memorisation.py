"""Memorisation: does a generated reply copy a training post?

A reply counts as a copy when, against its nearest training post, it shares
  - most of the shorter text verbatim (longest common substring >= 80% of it, and >= MIN_CHARS), or
  - a long common substring (>= LONG_SUBSTRING characters), or
  - near-duplicate wording (Jaccard similarity of 4-character shingles >= NEAR_DUP), or
  - mostly text found in the training posts (>= 50% of its 12-character windows occur there: a
    patchwork of several posts).
Replies shorter than MIN_CHARS are never counted ("おはよう" is not a copy).

Candidates come from two indexes over the training posts: MinHash signatures (studio.clean.near_dup,
estimated Jaccard against every post at once) and a sorted array of 12-character window hashes
(long shared substrings); the exact measures are then computed on the few candidates.
Characters, not words, so Japanese and English are treated alike.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter

import numpy as np

from studio.clean.near_dup import shingle_hashes, signatures

MIN_CHARS = 16
LONG_SUBSTRING = 30
VERBATIM_SHARE = 0.8
NEAR_DUP = 0.5
OVERLAP = 0.5
WINDOW = 12
SHINGLE = 4
CANDIDATES = 4


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    return {text[i:i + size] for i in range(max(len(text) - size + 1, 1))}


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y) if x | y else 0.0


def longest_common(a: str, b: str) -> int:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


class CopyDetector:
    """Built once over the training posts; `check(reply)` finds the nearest post and says whether it is copied."""

    def __init__(self, posts: list[str]):
        self.posts = list(posts)
        self.norm = [normalize(p) for p in self.posts]
        if not self.posts:
            return
        self.signatures = signatures(self.norm, size=SHINGLE)
        hashes, starts = shingle_hashes([t or " " for t in self.norm], WINDOW)
        owner = np.repeat(np.arange(len(self.norm)), np.diff(np.append(starts, len(hashes))))
        order = np.argsort(hashes, kind="stable")
        self.window_hashes, self.window_owner = hashes[order], owner[order]

    def _window_hits(self, text: str) -> tuple[float, list[int]]:
        """Share of the text's windows found in the training posts, and the posts sharing most windows."""
        if len(text) < WINDOW:
            return 0.0, []
        hashes, _ = shingle_hashes([text], WINDOW)
        left = np.searchsorted(self.window_hashes, hashes, side="left")
        right = np.searchsorted(self.window_hashes, hashes, side="right")
        found = right > left
        owners = Counter()
        for lo, hi in zip(left[found], right[found]):
            owners.update(set(self.window_owner[lo:hi].tolist()))
        return float(found.mean()), [i for i, _ in owners.most_common(CANDIDATES)]

    def check(self, reply: str) -> dict:
        text = normalize(reply)
        result = {"copied": False, "reasons": [], "nearest": None, "longest_common": 0, "jaccard": 0.0, "overlap": 0.0}
        if not self.posts or not text:
            return result
        overlap, by_windows = self._window_hits(text)
        estimated = (self.signatures == signatures([text], size=SHINGLE)[0]).mean(axis=1)
        by_minhash = np.argsort(-estimated, kind="stable")[:CANDIDATES].tolist()
        best = None
        for i in dict.fromkeys(by_windows + by_minhash):
            post = self.norm[i]
            common, similar = longest_common(text, post), jaccard(text, post)
            closeness = max(similar, common / max(min(len(text), len(post)), 1))
            if best is None or closeness > best[0]:
                best = (closeness, i, common, similar)
        _, index, common, similar = best
        reasons = []
        if len(text) >= MIN_CHARS:
            if common >= max(MIN_CHARS, VERBATIM_SHARE * min(len(text), len(self.norm[index]))):
                reasons.append("verbatim")
            if common >= LONG_SUBSTRING:
                reasons.append("long common substring")
            if similar >= NEAR_DUP:
                reasons.append("near-duplicate")
            if overlap >= OVERLAP and len(text) >= 2 * WINDOW:
                reasons.append("n-gram overlap")
        result.update(copied=bool(reasons), reasons=reasons, nearest=self.posts[index], longest_common=common,
                      jaccard=round(similar, 3), overlap=round(overlap, 3))
        return result


def copy_rate(checks: list[dict]) -> float | None:
    return round(sum(c["copied"] for c in checks) / len(checks), 4) if checks else None
