"""The style check of the cleaning: the character-class profile of the posts before and after cleaning.

`profile` measures a list of texts (rates are per post, shares are of posts or of characters);
`style_changes` compares the raw and the cleaned text of the same kept posts and names, for each
measure that moved, the steps that document changing it (`MAY_CHANGE`); an empty `by` means a step
changed the person's style without saying so. Links, @handles and the placeholders (<url> <email>
<phone> <name>) are left out of the character classes, so removing or masking them moves only the
`links` and `mentions` rates. Cheap at any size: a seeded sample of at most `SAMPLE` posts, each
measure one regex pass over the sample joined into one string.
"""

from __future__ import annotations

import random
import re

from studio.clean.text import URL

SAMPLE = 20_000
HANDLE = re.compile(r"(?<![\w@＠])[@＠][A-Za-z0-9_]{1,30}")
MASKED = re.compile(r"(?<![\w@＠])[@＠][A-Za-z0-9_]{1,30}(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?|<(?:url|email|phone|name)>")
COUNTS = {
    "fullwidth_punct": re.compile(r"[\u3001-\u3003\u3008-\u3011\u3014-\u301f\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]"),
    "halfwidth_punct": re.compile(r"[!-/:-@\[-`{-~]"),
    "fullwidth_alnum": re.compile(r"[０-９Ａ-Ｚａ-ｚ]"),
    "halfwidth_kana": re.compile(r"[\uff66-\uff9f]"),
    "ideographic_space": re.compile("\u3000"),
    "ellipses": re.compile(r"[…‥]"),  # the characters; "..." counts as half-width punctuation
    "emoji": re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55]"),
    "kaomoji": re.compile(r"[(（][^()（）\s\w]*[´`・･ωДд∀▽ﾟ゜^＾;；_＿•ε≧≦⌒∇Θ][^()（）\n]{0,10}[)）]"),
    "shortcodes": re.compile(r"(?<![\w:]):[a-z0-9_+-]{2,32}:(?![\w:])"),
    "line_breaks": re.compile(r"\n"),
    "repeated_mark_runs": re.compile(r"([^\w\s])\1\1|([wｗ笑草ーッっ])\2\2"),
}
UPPER, LOWER = re.compile(r"[A-ZＡ-ＺÀ-ÖØ-Þ]"), re.compile(r"[a-zａ-ｚß-öø-ÿ]")
ENDINGS = {"ends_maru": "。．", "ends_fullwidth_mark": "！？", "ends_halfwidth_mark": "!?", "ends_period": "."}
POLITE = re.compile(r"(です|ます|でした|ました|ません|でしょう|ましょう|ください)(か|ね|よ|よね|な|わ|けど|が|から|の)?$")
TRAILING = re.compile(r"[\s\W_ー〜～wｗ笑草]+$")
MEASURES = (tuple(COUNTS) + ("links", "mentions", "fullwidth_punct_share", "uppercase_share")
            + tuple(ENDINGS) + ("ends_polite",))

# which measures each step may change: a step missing here must change none
MAY_CHANGE = {
    "replies": {"mentions", "halfwidth_punct"},
    "html": {"halfwidth_punct", "fullwidth_punct_share", "uppercase_share", "line_breaks", "kaomoji", "ends_period",
             "ends_halfwidth_mark", "ends_maru", "ends_fullwidth_mark", "ends_polite"},  # &amp; -> &, a trailing tag goes
    "unicode": {"fullwidth_alnum", "halfwidth_kana", "halfwidth_punct", "fullwidth_punct", "fullwidth_punct_share",
                "ends_halfwidth_mark", "ends_fullwidth_mark", "repeated_mark_runs", "kaomoji"},
    "urls": {"links", "line_breaks", "ends_period", "ends_maru", "ends_halfwidth_mark", "ends_fullwidth_mark", "ends_polite"},
    "mentions": {"mentions"},
    "hashtags": {"halfwidth_punct", "fullwidth_punct", "fullwidth_punct_share", "ends_period", "ends_maru",
                 "ends_halfwidth_mark", "ends_fullwidth_mark", "ends_polite"},
    "runs": {"repeated_mark_runs", "emoji", "halfwidth_punct", "fullwidth_punct", "fullwidth_punct_share"},
    "privacy": {"halfwidth_punct", "uppercase_share"},
    "whitespace": {"line_breaks"},  # always on: trims lines and keeps at most one blank line
}


def sample(n: int, seed: int = 0) -> list[int]:
    """The indices measured: all of them up to SAMPLE, else a seeded sample of SAMPLE."""
    return list(range(n)) if n <= SAMPLE else sorted(random.Random(seed).sample(range(n), SAMPLE))


def profile(texts: list[str]) -> dict[str, float]:
    """Rates per post, shares of posts (ends_*) or characters (*_share), rounded to 4 places."""
    n = max(len(texts), 1)
    links = sum(len(URL.findall(x)) for x in texts)
    no_links = [URL.sub(" ", x) for x in texts]
    mentions = sum(len(HANDLE.findall(x)) for x in no_links)
    bare = [MASKED.sub(" ", x) for x in no_links]
    joined = "\x00".join(x.strip() for x in bare)
    counts = {name: len(pattern.findall(joined)) for name, pattern in COUNTS.items()}
    result = {name: count / n for name, count in counts.items()}
    result.update(links=links / n, mentions=mentions / n)
    punct = counts["fullwidth_punct"] + counts["halfwidth_punct"]
    result["fullwidth_punct_share"] = counts["fullwidth_punct"] / punct if punct else 0.0
    upper, lower = len(UPPER.findall(joined)), len(LOWER.findall(joined))
    result["uppercase_share"] = upper / (upper + lower) if upper + lower else 0.0
    lasts = [x.rstrip()[-1:] for x in bare]
    for name, marks in ENDINGS.items():
        result[name] = sum(1 for c in lasts if c and c in marks) / n
    result["ends_polite"] = sum(bool(POLITE.search(TRAILING.sub("", x))) for x in bare) / n
    return {name: round(result[name], 4) for name in MEASURES}


def moved(raw: float, cleaned: float) -> bool:
    """A measure changed: by at least 0.001 and by at least 1 % of its raw value."""
    return abs(cleaned - raw) >= max(0.001, 0.01 * abs(raw))


def style_changes(raw: dict, cleaned: dict, steps_that_changed: set[str]) -> list[dict]:
    """One row per measure that moved: raw, cleaned, change, and the steps (that ran) documenting it."""
    rows = []
    for name in MEASURES:
        if moved(raw[name], cleaned[name]):
            by = sorted(step for step in steps_that_changed | {"whitespace"} if name in MAY_CHANGE.get(step, ()))
            rows.append({"measure": name, "raw": raw[name], "cleaned": cleaned[name],
                         "change": round(cleaned[name] - raw[name], 4), "by": by})
    return rows
