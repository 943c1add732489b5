"""Style in any language, from characters alone: how far the replies' character n-gram profile is from
their posts', and whether a simple classifier tells the replies from their posts.

Both read characters, not words, so they work the same in Japanese (no spaces), English or emoji, and
neither needs a model: unlike the English sentence embedder (studio.evaluation.style.similarity), they
see Japanese-looking word salad for what it is.

`ngram_distance` is the cosine distance between the mean TF-IDF vector of the replies and that of half of
their held-out posts (character 1-3-grams within word boundaries, sublinear term frequency, IDF over both
sets). Why this and not Jensen-Shannon of raw n-gram distributions: raw distributions are dominated by
the characters every text in the script shares (spaces, e, t, の, に, ー), so word salad in the right script
already scores close; IDF weights the n-grams that tell texts apart, and averaging unit-length vectors
weighs each text once (one long post does not outweigh twenty short ones). The vectors have no negative
weights, so the distance lies in [0, 1]: 0 = the same profile, 1 = no n-gram shared. It grows when less
text is compared, so the floor ("real") compares as many of their other held-out posts as there are
replies, drawn several times.

`discriminate` trains a logistic regression on the same features to tell replies (label 1) from as
many real held-out posts (label 0, a seeded sample), cross-validated with stratified k folds, and
reports the mean ROC AUC over the folds and a few repeats (each repeat draws other real posts): 0.5 =
the classifier cannot tell them apart, 1.0 = told apart every time. "real" is their posts against their
other posts (the floor, about 0.5). With fewer than two texts per side it reports None and why.
"""

from __future__ import annotations

import random
import warnings

NGRAMS = (1, 3)
FOLDS = 5
REPEATS = 3
DRAWS = 5


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    # case and width kept as written: capitals, full-width marks and emoji are part of a person's style
    return TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True, lowercase=False)


def _texts(texts: list[str]) -> list[str]:
    return [t if t and t.strip() else " " for t in texts]


def _profile_distance(a: list[str], b: list[str]) -> float:
    import numpy as np

    matrix = _vectorizer().fit_transform(_texts(a) + _texts(b))
    first, second = np.asarray(matrix[:len(a)].mean(axis=0)).ravel(), np.asarray(matrix[len(a):].mean(axis=0)).ravel()
    norm = float(np.linalg.norm(first) * np.linalg.norm(second))
    return round(min(max(1.0 - float(first @ second) / norm, 0.0), 1.0), 4) if norm else 1.0


def _halves(real: list[str], seed: int) -> tuple[list[str], list[str]]:
    shuffled = list(real)
    random.Random(seed).shuffle(shuffled)
    half = len(shuffled) // 2
    return shuffled[:half], shuffled[half:]


def ngram_distance(replies: dict[str, list[str]], real: list[str], seed: int = 0) -> dict | None:
    """{side: distance of its replies to half of `real`, "real": the other half's posts (as many as the
    most replies of a side, mean of DRAWS seeded draws) to that half}; None with fewer than 2 real posts."""
    if len(real) < 2:
        return None
    reference, rest = _halves(real, seed)
    result = {side: (_profile_distance(texts, reference) if texts else None) for side, texts in replies.items()}
    count = min(max((len(t) for t in replies.values()), default=0) or len(rest), len(rest))
    rng = random.Random(seed + 1)
    draws = [_profile_distance(rng.sample(rest, count), reference) for _ in range(DRAWS if count < len(rest) else 1)]
    result["real"] = round(sum(draws) / len(draws), 4)
    return result


def _cv_auc(positive: list[str], negative: list[str], folds: int, seed: int) -> float:
    """Mean ROC AUC over stratified folds of a char n-gram logistic regression, positive against negative."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    texts, labels = _texts(positive) + _texts(negative), [1] * len(positive) + [0] * len(negative)
    scores = []
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(texts, labels):
        vectorizer = _vectorizer()
        features = vectorizer.fit_transform([texts[i] for i in train])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(C=10.0, max_iter=1000).fit(features, [labels[i] for i in train])
        decision = model.decision_function(vectorizer.transform([texts[i] for i in test]))
        scores.append(roc_auc_score([labels[i] for i in test], decision))
    return sum(scores) / len(scores)


def auc(positive: list[str], negative: list[str], folds: int = FOLDS, seed: int = 0,
        repeats: int = REPEATS) -> float | None:
    """Cross-validated AUC of telling `positive` from `negative` (balanced: `negative` is sampled to the
    count of `positive` when longer, afresh for each repeat), or None with fewer than 2 texts a side."""
    n = min(len(positive), len(negative))
    if n < 2:
        return None
    folds = min(folds, n)
    rng, results = random.Random(seed), []
    for repeat in range(repeats):
        pos = positive if len(positive) == n else rng.sample(positive, n)
        neg = negative if len(negative) == n else rng.sample(negative, n)
        results.append(_cv_auc(pos, neg, folds, seed + repeat))
    return round(sum(results) / len(results), 4)


def discriminate(replies: dict[str, list[str]], real: list[str], folds: int = FOLDS, seed: int = 0) -> dict:
    """{side: AUC of its replies against their real posts, "real": their posts against their other posts
    (the floor), "folds": k, "texts": replies per side}. Sides or floors without 2 texts a side give None,
    and then "reason" says why."""
    counts = [len(t) for t in replies.values() if t]
    n = min(counts) if counts else 0
    result: dict = {side: None for side in replies}
    result.update({"real": None, "folds": min(folds, n, len(real)) if n >= 2 and len(real) >= 2 else 0, "texts": n})
    if n < 2 or len(real) < 2:
        result["reason"] = (f"too few texts to cross-validate: {n} replies and {len(real)} real posts "
                            "(at least 2 of each)")
        return result
    for side, texts in replies.items():
        result[side] = auc(texts, real, folds, seed) if len(texts) >= 2 else None
    first, second = _halves(real, seed)
    size = min(n, len(first), len(second))
    if size >= 2:
        result["real"] = auc(first, second, folds, seed) if size == len(first) else _floor(first, second, size, folds, seed)
    else:
        result["reason"] = f"too few real posts ({len(real)}) for the floor: their posts against their other posts"
    return result


def _floor(first: list[str], second: list[str], size: int, folds: int, seed: int) -> float:
    """Their posts against their other posts, `size` of each, REPEATS seeded draws."""
    rng = random.Random(seed + 7)
    draws = [auc(rng.sample(first, size), rng.sample(second, size), folds, seed + i, repeats=1) for i in range(REPEATS)]
    return round(sum(draws) / len(draws), 4)
