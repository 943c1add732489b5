"""Pure text functions of the cleaning pipeline: each takes a string and returns a string (or a bool).

Normalisation keeps how the person writes (`normalize`, the default 'per-script' form): it changes only
what the seed study found harmful or inconsistent. In every post full-width letters and digits (ＡＢＣ１２３)
become half width and half-width katakana (ｶﾀｶﾅ) full width; inside Japanese posts `japanese_marks` turns
! ? ~ to full width and makes 〜 ∼ one wave dash (～); `cap_runs` stops "〜〜〜〜〜〜" and "wwwww" from
teaching endless repeats. Nothing else: CJK punctuation (，：；（）「」), the ideographic space U+3000,
emoji, kaomoji and :shortcodes: stay as written. `script_of` tells Japanese (kana), Korean (hangul) and
Chinese (ideographs without kana) apart, the export's language tag first. 'NFKC' (which also folds
，（）： to , ( ) : and … to ...) stays available as an option.
"""

from __future__ import annotations

import html
import re
import unicodedata

URL = re.compile(r"(?:https?://|(?<![\w.])www\.(?=[A-Za-z0-9-]+\.[A-Za-z]))[^\s<>\"'　]+", re.IGNORECASE)  # not "WWW..."
HANDLE = re.compile(r"(?<![\w@＠])[@＠][A-Za-z0-9_]{1,30}(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?")  # @user or @user@host
LEADING_HANDLES = re.compile(r"^(?:\s*\.?[@＠][A-Za-z0-9_]{1,30}(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?[\s:,]*)+")
HASHTAG = re.compile(r"(?<!\w)[#＃][^\s#＃!?.,、。！？「」()（）]+")
TAG = re.compile(r"<[^>]{1,500}>")
KANA = re.compile(r"[\u3041-\u309f\u30a1-\u30fa\u30fd-\u30ff\u31f0-\u31ff\uff66-\uff9d]")  # not ・ ー (also used in Chinese)
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
SCRIPT_TAGS = {"ja": "ja", "zh": "zh", "yue": "zh", "cmn": "zh", "wuu": "zh", "ko": "ko"}
NOT_A_LANGUAGE = frozenset({"und", "zxx", "mul", "mis", "art", "qme", "qht", "qam", "qct", "qst", "qlk"})
FULL_WIDTH_ALNUM = re.compile(r"[０-９Ａ-Ｚａ-ｚ]")
WIDTH_RULED = re.compile(r"[０-９Ａ-Ｚａ-ｚ\uff66-\uff9f]")
FOLD_ALNUM = {code: code - 0xFEE0 for start, end in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
              for code in range(start, end + 1)}
# a run of half-width katakana that starts with a letter and is at least 2 long: ｶﾀｶﾅ, ｶﾞ; a lone ﾉ or ﾟ
# is more often an arm or an eye of a kaomoji ((ﾉ∀`) (ﾟ∀ﾟ)) and stays, and so does ･ (half-width middle dot)
HALF_WIDTH_KANA = re.compile(r"[\uff66-\uff9d][\uff66-\uff9f]+")
NFC_SAFE = re.compile(r"[^\uf900-\ufaff]+")  # NFC would swap CJK compatibility ideographs for unified ones
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
WAVE_DASHES = "\u301c\u223c"  # 〜 WAVE DASH, ∼ TILDE OPERATOR -> ～ FULLWIDTH TILDE
WAVE_DASH = re.compile(f"[{WAVE_DASHES}]")
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


def script_of(text: str, lang: str | None = None) -> str:
    """'ja', 'zh', 'ko' or '' (other): the export's language tag when it names a language, else the
    characters: kana => Japanese, hangul => Korean, ideographs without kana => Chinese."""
    code = (lang or "").strip().lower().replace("_", "-").split("-")[0]
    if code and code not in NOT_A_LANGUAGE:
        return SCRIPT_TAGS.get(code, "")
    if KANA.search(text):
        return "ja"
    if HANGUL.search(text):
        return "ko"
    return "zh" if IDEOGRAPH.search(text) else ""


def fold_width(text: str) -> str:
    """Full-width letters and digits to half width (ＡＢＣ１２３ -> ABC123), half-width katakana to full
    width (ｶﾞｷﾞ -> ガギ); every other character as written."""
    if not WIDTH_RULED.search(text):
        return text
    if FULL_WIDTH_ALNUM.search(text):
        text = text.translate(FOLD_ALNUM)
    if HALF_WIDTH_KANA.search(text):
        text = HALF_WIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    return text


def normalize_unicode(text: str, form: str = "per-script") -> str:
    """'per-script': NFC (CJK compatibility ideographs kept) then `fold_width`; 'NFKC', 'NFC'; 'none'."""
    if form == "per-script":
        if not unicodedata.is_normalized("NFC", text):
            text = NFC_SAFE.sub(lambda m: unicodedata.normalize("NFC", m.group(0)), text)
        return fold_width(text)
    return unicodedata.normalize(form, text) if form != "none" else text


def has_japanese(text: str) -> bool:
    """Kana in the text: ideographs alone are as likely Chinese (see `script_of`)."""
    return KANA.search(text) is not None


def full_width_marks(text: str, unify_wave_dash: bool = True) -> str:
    """Half-width ! ? ~ to full width, and one wave dash (～) for 〜 and ∼; links keep theirs."""
    def marks(part: str) -> str:
        part = part.translate(TO_FULL_WIDTH)
        return WAVE_DASH.sub("～", part) if unify_wave_dash else part

    if "://" not in text and "www." not in text.lower():
        return marks(text)
    links = URL.findall(text)
    return "".join(marks(part) + (links[i] if i < len(links) else "") for i, part in enumerate(URL.split(text)))


def japanese_marks(text: str, unify_wave_dash: bool = True, lang: str | None = None) -> str:
    """Inside Japanese text (see `script_of`): `full_width_marks`; other text as written."""
    return full_width_marks(text, unify_wave_dash) if script_of(text, lang) == "ja" else text


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
    """Trim spaces and tabs around each line, collapse inner runs of them, and keep at most one blank
    line; the ideographic space U+3000 stays as written (a post of only whitespace becomes '')."""
    if not text.strip():
        return ""
    lines = [re.sub(r"[ \t]+", " ", line).strip(" \t\r\f\v") for line in text.strip("\n\r\t\f\v ").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


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
