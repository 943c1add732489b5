"""Register and writing habits per language: the replies of the base model and of the persona beside
their real held-out posts, measured on the texts of each language separately.

    habits({"base": [...], "persona": [...], "real": [...]}) -> {lang: {measure: {"base", "persona", "real"}}}

Languages are told by script (studio.clean.text.script_of): "ja" (kana), "ko" (hangul), "zh" (ideographs
without kana); texts in Latin letters count as "en" (the evaluation prompts are English and Japanese;
German or French posts fall in with them, and every measure below except the Japanese endings is one
of the script, not of the language); other scripts by their Unicode name ("cyrillic", "arabic", ...);
texts without letters are "none".

Measures, each for base, persona and their posts ("real"); None where a side has no text in the language:
- share: the side's texts written in this language (0.0 for a Japanese persona that answers in English);
- polite_share (ja): Japanese sentences ending in です/ます forms, of all Japanese sentences (the seed
  study's check; the rest are plain endings);
- fullwidth_punct_share: full-width punctuation (。、！？「」（）～) of all punctuation;
- emoji_per_text, kaomoji_per_text: rates per text (`KAOMOJI`: Japanese faces in brackets such as
  (゜_゜) (≧∇≦) and Western emoticons :) ;) :P xD <3 ^_^, not a URL's :/ nor a time's 19:30);
- line_breaks_per_text, mean_chars;
- length_distance: the Kolmogorov-Smirnov statistic between the side's text lengths (characters) and
  their posts' (0 = the same distribution, 1 = no overlap); "real" compares half of their posts with the
  other half (the floor). Replies are cut at the evaluation's token limit, so long posts read as a gap;
- words: the most characteristic words of each side within the language (studio.evaluation.style).
"""

from __future__ import annotations

import random
import re
import unicodedata

from studio.clean.style import COUNTS
from studio.clean.text import script_of
from studio.evaluation.style import EMOJI, characteristic_words, japanese_endings

FACE = "´`・･ωДд∀▽ﾟ゜^＾;；_＿•ε≧≦⌒∇Θ￣ロ○ᴗ‿◕╹︶°≖ಠ｀ﾉノ∩ェｪ〃灬"
KAOMOJI = re.compile(
    "[(（][^()（）\\w\\s]*[" + FACE + "][^()（）\\n]{0,10}[)）]"  # (゜_゜) (≧∇≦) (´・ω・`)
    r"|(?<![\w:/])[:;=][-^'o]?[)(DPpO3/\\|\]\[*](?![\w/:])"  # :) ;-) :P :3 =D, not https:// or 19:30
    r"|(?<!\w)[xX]D(?!\w)|(?<!\w)\^[_\-o.ω]?\^(?!\w)|(?<!\w)orz(?!\w)|<3"
)
FULLWIDTH, HALFWIDTH = COUNTS["fullwidth_punct"], COUNTS["halfwidth_punct"]
LATIN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]")
SIDES = ("base", "persona", "real")


def language(text: str) -> str:
    """The language group of a text: ja / ko / zh by script_of, "en" for Latin letters, else the Unicode
    script name of its first letter (lower case), "none" without letters."""
    script = script_of(text)
    if script:
        return script
    if LATIN.search(text):
        return "en"
    for char in text:
        if char.isalpha():
            return unicodedata.name(char, "OTHER").split()[0].lower()
    return "none"


def _per_text(texts: list[str], pattern) -> float:
    return round(sum(len(pattern.findall(t)) for t in texts) / len(texts), 3)


def _fullwidth_share(texts: list[str]) -> float | None:
    full = sum(len(FULLWIDTH.findall(t)) for t in texts)
    half = sum(len(HALFWIDTH.findall(t)) for t in texts)
    return round(full / (full + half), 3) if full + half else None


def polite_share(texts: list[str]) -> float | None:
    polite = plain = 0
    for text in texts:
        p, q = japanese_endings(text)
        polite, plain = polite + p, plain + q
    return round(polite / (polite + plain), 3) if polite + plain else None


def ks_distance(a: list[int], b: list[int]) -> float | None:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical distributions."""
    if not a or not b:
        return None
    from scipy.stats import ks_2samp

    return round(float(ks_2samp(a, b).statistic), 3)


def _lengths(texts: list[str]) -> list[int]:
    return [len(t) for t in texts]


def _measures(texts: list[str], lang: str) -> dict:
    if not texts:
        return {}
    result = {"polite_share": polite_share(texts)} if lang == "ja" else {}
    result.update({
        "fullwidth_punct_share": _fullwidth_share(texts),
        "emoji_per_text": _per_text(texts, EMOJI),
        "kaomoji_per_text": _per_text(texts, KAOMOJI),
        "line_breaks_per_text": round(sum(t.count("\n") for t in texts) / len(texts), 3),
        "mean_chars": round(sum(_lengths(texts)) / len(texts), 1),
    })
    return result


def _length_floor(real: list[str], seed: int) -> float | None:
    shuffled = list(real)
    random.Random(seed).shuffle(shuffled)
    half = len(shuffled) // 2
    return ks_distance(_lengths(shuffled[:half]), _lengths(shuffled[half:])) if half else None


def habits(groups: dict[str, list[str]], seed: int = 0, top: int = 6) -> dict:
    """{lang: {measure: {side: value}}} for every language any side writes in, most texts first."""
    by_lang: dict[str, dict[str, list[str]]] = {}
    for side, texts in groups.items():
        for text in texts:
            by_lang.setdefault(language(text), {s: [] for s in groups})[side].append(text)
    order = sorted(by_lang, key=lambda lang: (-sum(len(v) for v in by_lang[lang].values()), lang))
    result = {}
    for lang in order:
        texts = by_lang[lang]
        measures = {side: _measures(texts[side], lang) for side in groups}
        names = list(dict.fromkeys(k for m in measures.values() for k in m))
        table = {"share": {side: round(len(texts[side]) / len(groups[side]), 3) if groups[side] else None
                           for side in groups}}
        table.update({name: {side: measures[side].get(name) for side in groups} for name in names})
        real_lengths = _lengths(texts.get("real", []))
        table["length_distance"] = {side: ks_distance(_lengths(texts[side]), real_lengths) for side in groups if side != "real"}
        table["length_distance"]["real"] = _length_floor(texts.get("real", []), seed)
        table["words"] = characteristic_words(texts, top=top) if any(texts.values()) else {}
        result[lang] = table
    return result
