"""Near-duplicate detection: MinHash over character shingles, LSH banding, keep the first of each group.

Character shingles need no tokenizer, so Japanese and English are treated alike. The signatures
are computed with numpy over many posts at once (the posts' code points in one array, rolling
shingle hashes, `minimum.reduceat` per post), which keeps 100k posts to about a second and 1M
posts within a few hundred MB. datasketch implements the same MinHash/LSH scheme, but per post
in Python: about 10 s per 100k posts and several GB of index at 1M, beyond this step's budget.
"""

from __future__ import annotations

import numpy as np

MAX_HASH = np.uint64(0xFFFFFFFF)
SHIFT = np.uint64(32)
CHUNK = 5_000  # posts hashed at once (and candidate pairs checked at once): 20k took 270 MB more at 1M posts


def lsh_bands(threshold: float, num_perm: int, recall: float = 0.95) -> tuple[int, int]:
    """(bands, rows): the fewest bands that still make a pair of similarity `threshold` a candidate
    with probability `recall`; the candidates are then checked against the threshold itself."""
    pairs = sorted((num_perm // r, r) for r in range(1, num_perm + 1) if num_perm % r == 0)
    return next(((b, r) for b, r in pairs if 1 - (1 - threshold ** r) ** b >= recall), pairs[-1])


def shingle_hashes(texts: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every `size`-character shingle of every text, and where each text's shingles start."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    windows = np.maximum(lengths - size + 1, 1)  # a text shorter than a shingle is one shingle
    starts = np.concatenate([[0], np.cumsum(windows)])[:-1]
    positions = np.repeat(offsets[:-1], windows) + (np.arange(windows.sum()) - np.repeat(starts, windows))
    hashes = np.zeros(len(positions), dtype=np.uint64)
    padded = np.concatenate([codes, np.zeros(size, dtype=np.uint64)])
    ends = np.repeat(offsets[1:], windows)
    for k in range(size):  # polynomial rolling hash, characters past the text's end count as 0
        index = positions + k
        char = np.where(index < ends, padded[index], 0)
        hashes = (hashes * np.uint64(1_000_003) + char) & MAX_HASH
    return hashes, starts


def signatures(texts: list[str], num_perm: int = 64, size: int = 4, seed: int = 1) -> np.ndarray:
    """MinHash signatures, shape (len(texts), num_perm), uint32."""
    rng = np.random.default_rng(seed)  # multiply-shift hashing: (a*h + b) mod 2**64, top 32 bits, a odd
    a = rng.integers(0, 1 << 63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 1 << 63, num_perm, dtype=np.uint64)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    for first in range(0, len(texts), CHUNK):
        chunk = [t or " " for t in texts[first:first + CHUNK]]
        hashes, starts = shingle_hashes(chunk, size)
        work = np.empty_like(hashes)
        for k in range(num_perm):  # one permutation at a time: small arrays that stay in cache
            np.multiply(hashes, a[k], out=work)
            np.add(work, b[k], out=work)
            np.right_shift(work, SHIFT, out=work)
            out[first:first + len(chunk), k] = np.minimum.reduceat(work, starts)
    return out


def near_duplicates(texts: list[str], threshold: float = 0.8, num_perm: int = 64, size: int = 4) -> dict[int, int]:
    """{index of a near-duplicate: index of the earlier post it repeats}, for estimated Jaccard >= threshold.

    Each post is compared with the first post of every LSH bucket it falls in; a match in any band
    whose signatures agree on at least `threshold` of their values marks it a duplicate.
    """
    if len(texts) < 2:
        return {}
    sig = signatures(texts, num_perm, size)
    bands, rows = lsh_bands(threshold, num_perm)
    found: dict[int, int] = {}
    index = np.arange(len(texts))
    for band in range(bands):
        keys = np.zeros(len(texts), dtype=np.uint64)
        for column in sig[:, band * rows:(band + 1) * rows].T:  # one 64-bit key per band (wraps; verified below)
            keys = keys * np.uint64(0x9E3779B97F4A7C15) + column
        order = np.lexsort((index, keys))  # by bucket, then by position: the first of a bucket comes first
        sorted_keys = keys[order]
        new_bucket = np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]])
        first = order[np.maximum.accumulate(np.where(new_bucket, np.arange(len(order)), 0))]
        candidates = np.nonzero(first != order)[0]
        if not len(candidates):
            continue
        dup, rep = order[candidates], first[candidates]
        agree = np.concatenate([(sig[dup[i:i + CHUNK]] == sig[rep[i:i + CHUNK]]).mean(axis=1) >= threshold
                                for i in range(0, len(dup), CHUNK)])  # in parts: at 1M posts they are many
        for d, r in zip(dup[agree].tolist(), rep[agree].tolist()):
            found.setdefault(d, r)
    return found
