"""Pure text functions of the cleaning pipeline: each takes a string and returns a string (or a bool).

Japanese gets the same care as English: NFKC folds full-width letters and digits to half width,
then `japanese_marks` turns ! ? ~ back to full width inside Japanese posts (as the seed data did),
and `cap_runs` stops "〜〜〜〜〜〜" and "wwwww" from teaching the model endless repeats.
"""

from __future__ import annotations

import html
import re
import unicodedata

URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'　]+", re.IGNORECASE)
HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{1,30}(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?")  # @user or @user@host
LEADING_HANDLES = re.compile(r"^(?:\s*\.?@[A-Za-z0-9_]{1,30}(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?[\s:,]*)+")
HASHTAG = re.compile(r"(?<!\w)[#＃][^\s#＃!?.,、。！？「」()（）]+")
TAG = re.compile(r"<[^>]{1,500}>")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
WAVE_DASHES = "\u301c\u223c"  # 〜 WAVE DASH, ∼ TILDE OPERATOR -> ～ FULLWIDTH TILDE
TO_FULL_WIDTH = str.maketrans({"!": "！", "?": "？", "~": "～"})
RUN_CHARS = "〜～~!?！？wｗWーッっ笑草♪☆★♡♥"
"""Characters whose runs are capped by default; symbols (emoji, ♪) are capped as well."""


def strip_html(text: str) -> str:
    """Decode entities (&amp; &gt; &#39; ...) and drop tags; exports escape both."""
    return html.unescape(TAG.sub(" ", text)) if "<" in text else html.unescape(text)


def replace_urls(text: str, placeholder: str = "") -> str:
    return URL.sub(placeholder, text)


def strip_leading_handles(text: str) -> str:
    """'@a @b thanks!' -> 'thanks!': the addressees of a reply are not part of what was said."""
    return LEADING_HANDLES.sub("", text, count=1)


def replace_handles(text: str, placeholder: str = "") -> str:
    return HANDLE.sub(placeholder, text)


def remove_hashtags(text: str) -> str:
    return HASHTAG.sub("", text)


def normalize_unicode(text: str, form: str = "NFKC") -> str:
    return unicodedata.normalize(form, text) if form != "none" else text


def has_japanese(text: str) -> bool:
    return JAPANESE.search(text) is not None


def japanese_marks(text: str, unify_wave_dash: bool = True) -> str:
    """Inside Japanese text: half-width ! ? ~ to full width, and one wave dash (～) for 〜 and ∼."""
    if not has_japanese(text):
        return text
    text = text.translate(TO_FULL_WIDTH)
    if unify_wave_dash:
        text = re.sub(f"[{WAVE_DASHES}]", "～", text)
    return text


def cap_runs(text: str, max_run: int = 2, chars: str = RUN_CHARS) -> str:
    """Cut runs of the same mark to `max_run`: '～～～～' -> '～～', 'wwww' -> 'ww', '!!!!' -> '!!'.

    Applies to the characters in `chars` and to every symbol (emoji, ♪, ☆); letters and digits
    outside `chars` are left alone, so 'Hmmmm' and '1000' survive.
    """
    if max_run < 1:
        return text

    def cut(match: re.Match) -> str:
        char = match.group(1)
        if char in chars or unicodedata.category(char) == "So":
            return char * max_run
        return match.group(0)

    return re.sub(r"(.)\1{%d,}" % max_run, cut, text)


def normalize_whitespace(text: str) -> str:
    """Trim each line, collapse inner runs of spaces, and keep at most one blank line."""
    lines = [re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def is_cjk(text: str) -> bool:
    return CJK.search(text) is not None


def too_short(text: str, min_chars_cjk: int, min_words: int) -> bool:
    """Characters count for Chinese/Japanese/Korean posts, words for the rest."""
    if is_cjk(text):
        return len(re.sub(r"\s", "", text)) < min_chars_cjk
    return len(re.findall(r"\w+", text)) < min_words


def dedupe_key(text: str) -> str:
    """What 'the same post' means for exact duplicates: case and spacing do not count."""
    return " ".join(text.casefold().split())
