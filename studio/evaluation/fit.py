"""Does the base model fit their language? Measured before training, from the posts and the base model alone.

Per language of the posts (studio.clean's script_of: kana => Japanese, hangul => Korean, the export's own tag
where it names one, else English for Latin text): the base model's loss per character on a small seeded
sample of the posts (as the persona's training and evaluation score them: the post as the assistant turn),
and its accuracy on the knowledge probe's questions in that language (studio.evaluation.probe). A plain
`message` says when the base cannot write a language: a small English model trained on Japanese posts gives
Japanese-looking word salad, and no training setting fixes that.

The probe part (a greedy generation per question) is cached per base model, language and probe version in
studio.config.cache_dir()/language-fit, so later calls take about a second.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections import Counter

from studio.clean.text import script_of
from studio.config import cache_dir
from studio.evaluation import probe
from studio.evaluation.generate import held_out_loss
from studio.files import write_json

LANGUAGE_NAMES = {"en": "English", "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "de": "German", "fr": "French",
                  "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "pl": "Polish",
                  "tr": "Turkish", "ar": "Arabic", "hi": "Hindi", "id": "Indonesian", "in": "Indonesian", "th": "Thai",
                  "vi": "Vietnamese", "sv": "Swedish"}
FIT_SYSTEM = "You are a person writing a post."
SAMPLE_POSTS = 16  # posts per language scored for loss: a seeded sample (about a second on the bundled model)
MAX_CHARS = 120  # a post longer than this is cut: the loss is per character of what was scored
MIN_POSTS = 5  # a language with fewer posts is listed but not judged
MIN_SHARE = 0.10  # nor one under 10 % of the posts (a few quotes or mis-tagged posts do not make the voice)

# Thresholds, from the bundled SmolLM2-135M-Instruct on the two fixtures (README, "Does the base model fit
# their language?"): it answers 1 of 30 Japanese probe questions and scores koume's Japanese posts at
# 5.6 nats per character; it answers 64 of 79 English ones and scores andre's English posts at 1.6 nats per
# character (andre's German-tagged posts: 2.4). A language fits when the base answers at least POOR_PROBE of
# the probe's questions in it and scores the posts under the loss threshold of its script. A character
# carries more in Japanese, Chinese and Korean than in Latin script, so those get their own threshold, set
# between the bundled model's 5.6 and the 2-3 nats per character a model that writes Japanese reaches on
# casual Japanese text.
POOR_PROBE = 0.25  # share of the probe's questions in the language; the bundled model: en 0.81, ja 0.03
POOR_LOSS_PER_CHAR = 2.2  # nats per character, Latin script; the bundled model on andre: en 1.6, de 2.4
POOR_LOSS_PER_CHAR_CJK = 4.0  # nats per character, ja/zh/ko; the bundled model on koume: 5.6
CJK = ("ja", "zh", "ko")
ADVICE = "a multilingual base such as Qwen2.5 (on a GPU) fits"


def language_of(text: str, tag: str | None = None) -> str:
    """'ja', 'zh', 'ko' by script; else the export's tag where it names a language; else 'en'."""
    script = script_of(text, tag)
    if script:
        return script
    code = (tag or "").strip().lower().replace("_", "-").split("-")[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) and code not in ("und", "qme", "qht", "zxx") else "en"


def _texts(posts) -> list[tuple[str, str | None]]:
    return [(p.text, p.lang) if hasattr(p, "text") else (p["text"], p.get("lang")) for p in posts]


def _probe_cache(base_key: str, lang: str):
    version = hashlib.sha256(probe.PROBE_FILE.read_bytes()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", base_key)[:120]
    return cache_dir() / "language-fit" / f"{slug}-{lang}-probe-{version}.json"


def probe_in(model, tokenizer, langs: list[str], base_key: str | None = None) -> dict:
    """The base's probe accuracy per language, cached per base model, language and probe version."""
    result, missing = {}, []
    for lang in langs:
        path = _probe_cache(base_key, lang) if base_key else None
        if path is not None and path.is_file():
            result[lang] = json.loads(path.read_text(encoding="utf-8"))
        else:
            missing.append(lang)
    if missing:
        measured = probe.accuracy_by_language(model, tokenizer, missing)
        for lang, part in measured.items():
            result[lang] = part
            if base_key:
                write_json(_probe_cache(base_key, lang), part)
    return result


def judge(lang: str, figures: dict) -> bool | None:
    """Whether the base fits the language (None: too few posts to say)."""
    if not figures.get("judged"):
        return None
    known = figures.get("probe")
    if known and known["questions"]:
        if known["accuracy"] < POOR_PROBE:
            return False
    loss = figures.get("loss_per_char")
    if loss is None:
        return True
    return loss <= (POOR_LOSS_PER_CHAR_CJK if lang in CJK else POOR_LOSS_PER_CHAR)


def _figures_text(figures: dict) -> str:
    parts = []
    if figures.get("probe"):
        parts.append(f"probe {figures['probe']['correct']} of {figures['probe']['questions']}")
    if figures.get("loss_per_char") is not None:
        parts.append(f"{figures['loss_per_char']:.1f} nats per character")
    return ", ".join(parts)


def fit_message(base_name: str, languages: dict) -> str:
    """Plain words for the figures: which languages the base writes, and what to expect where it does not."""
    poor = [lang for lang, f in languages.items() if f.get("fits") is False]
    good = [lang for lang, f in languages.items() if f.get("fits")]
    sentences = []
    for lang in poor:
        name = LANGUAGE_NAMES.get(lang, lang)
        sentences.append(f"{base_name} knows little {name} ({_figures_text(languages[lang])}): expect word salad in "
                         f"{name}; {ADVICE}.")
    if good:
        listed = "; ".join(f"{LANGUAGE_NAMES.get(lang, lang)} ({_figures_text(languages[lang])})" for lang in good)
        sentences.append(f"{base_name} fits {'the rest' if poor else 'these posts'}: {listed}.")
    if not sentences:
        return f"Too few posts to tell whether {base_name} fits their language."
    return " ".join(sentences)


def language_fit(model, tokenizer, posts, base_name: str = "The base model", base_key: str | None = None,
                 sample: int = SAMPLE_POSTS, seed: int = 0) -> dict:
    """Per language of the posts: posts, share, the base's loss per character on a seeded sample and its probe
    accuracy in that language, whether it fits; and `message`, plain words a person reads before training.
    `posts` are Posts or their dicts; `base_key` (the model's id and revision) caches the probe part."""
    start = time.perf_counter()
    texts = [(t, tag) for t, tag in _texts(posts) if t.strip()]
    by_lang: dict[str, list[str]] = {}
    for text, tag in texts:
        by_lang.setdefault(language_of(text, tag), []).append(text)
    counts = Counter({lang: len(v) for lang, v in by_lang.items()})
    judged = [lang for lang, n in counts.most_common() if n >= MIN_POSTS and n / max(len(texts), 1) >= MIN_SHARE]
    known = probe_in(model, tokenizer, [lang for lang in judged if lang in probe_languages()], base_key)
    languages = {}
    for lang, n in counts.most_common():
        figures = {"posts": n, "share": round(n / len(texts), 3), "judged": lang in judged}
        if lang in judged:
            chosen = random.Random(seed).sample(by_lang[lang], min(sample, n))
            chosen = [t[:MAX_CHARS] for t in chosen]
            loss = held_out_loss(model, tokenizer, chosen, FIT_SYSTEM, None, max_length=512, seed=seed)
            chars = sum(len(t) for t in chosen)
            figures.update(sampled=len(chosen), loss_per_token=loss["loss"],
                           loss_per_char=round(loss["loss"] * loss["tokens"] / max(chars, 1), 3),
                           tokens_per_char=round(loss["tokens"] / max(chars, 1), 3), probe=known.get(lang))
        figures["fits"] = judge(lang, figures)
        languages[lang] = figures
    return {"base": base_name, "posts": len(texts), "languages": languages,
            "fits": all(f["fits"] is not False for f in languages.values()),
            "message": fit_message(base_name, languages), "seconds": round(time.perf_counter() - start, 2)}


def probe_languages() -> set[str]:
    return {q["lang"] for q in probe.questions()}


_MEMO: dict[tuple, dict] = {}
_LOCK = threading.Lock()  # two tabs asking at once: the second waits and gets the first one's figures


def fit_for_base(spec: str | None, posts) -> dict:
    """language_fit for a base model spec ('bundled', a folder, a Hub id): loads it, measures, lets it go.
    The last few results are kept in this process (the Data and Train tabs ask about the same posts)."""
    from studio.models import resolve_base

    ref = resolve_base(spec)
    digest = hashlib.sha256("\n".join(t for t, _ in _texts(posts)).encode("utf-8")).hexdigest()
    key = (str(ref.path), ref.revision, digest)
    with _LOCK:
        if key not in _MEMO:
            _MEMO[key] = _measure(ref, posts)
            while len(_MEMO) > 8:
                _MEMO.pop(next(iter(_MEMO)))
        return _MEMO[key]


def _measure(ref, posts) -> dict:
    from studio.models import load_model, load_tokenizer

    model, tokenizer = load_model(ref), load_tokenizer(ref)
    weights = ref.path / "config.json"  # a local folder has no revision: its config's time stands in
    base_key = f"{ref.id}@{ref.revision}" if ref.revision else f"{ref.path}@{int(weights.stat().st_mtime)}"
    return language_fit(model, tokenizer, posts, base_name=ref.id.rsplit("/", 1)[-1], base_key=base_key)
