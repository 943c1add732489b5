"""The cleaning pipeline: posts in, clean posts and a report of what each step removed or changed.

The funnel, in order: retweets -> replies -> links only -> empty -> language -> too short ->
duplicates -> near-duplicates -> kept. Steps that edit text (replies, html, urls, mentions,
hashtags, unicode (the per-script width rules), runs, privacy) count the posts they changed, with examples.
"""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

from studio.clean import text as t
from studio.clean.config import CleanConfig
from studio.clean.near_dup import near_duplicates
from studio.clean.privacy import names_pattern, scrub_emails, scrub_names, scrub_phones
from studio.clean.style import profile, sample, style_changes
from studio.errors import InputError
from studio.ingest.base import Post

EXAMPLES_PER_STEP = 5
EXAMPLE_CHARS = 160
STEPS = ("retweets", "replies", "html", "unicode", "urls", "links_only", "mentions", "hashtags", "runs",
         "privacy", "empty", "language", "too_short", "duplicates", "near_duplicates", "unticked")
RETWEET_PREFIX = re.compile(r"^RT @\w+:?")


@dataclass
class StepReport:
    removed: int = 0
    changed: int = 0
    examples: list[dict] = field(default_factory=list)


@dataclass
class CleanReport:
    """Counts per step, a few examples of each, and what the kept posts look like."""

    loaded: int = 0
    kept: int = 0
    steps: dict[str, StepReport] = field(default_factory=lambda: {name: StepReport() for name in STEPS})
    privacy: dict[str, int] = field(default_factory=lambda: {"url": 0, "email": 0, "phone": 0, "handle": 0, "name": 0})
    stats: dict = field(default_factory=dict)
    split: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    style: dict = field(default_factory=dict)  # {"raw": profile, "cleaned": profile} of the kept posts (clean/style.py)
    style_changes: list[dict] = field(default_factory=list)  # measure, raw, cleaned, change, by (steps documenting it)

    @property
    def removed(self) -> dict[str, int]:
        return {name: s.removed for name, s in self.steps.items() if s.removed}

    def drop(self, step: str, text: str) -> None:
        s = self.steps[step]
        s.removed += 1
        if len(s.examples) < EXAMPLES_PER_STEP:
            s.examples.append({"text": text[:EXAMPLE_CHARS]})

    def change(self, step: str, before: str, after: str) -> str:
        if after != before:
            s = self.steps[step]
            s.changed += 1
            if len(s.examples) < EXAMPLES_PER_STEP:
                s.examples.append({"before": before[:EXAMPLE_CHARS], "after": after[:EXAMPLE_CHARS]})
        return after

    def funnel(self) -> list[tuple[str, int]]:
        """(stage, posts left) from 'loaded' to 'kept', one row per step that removes posts."""
        rows, left = [("loaded", self.loaded)], self.loaded
        for name, s in self.steps.items():
            if s.removed:
                left -= s.removed
                rows.append((name, left))
        return rows + [("kept", self.kept)]

    def summary(self) -> str:
        removed = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in self.removed.items())
        return f"{self.loaded} loaded, {self.kept} kept" + (f" (removed: {removed})" if removed else "")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["removed"] = self.removed
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CleanReport":
        """The inverse of to_dict (a job reads the report its request was saved with)."""
        steps = {name: StepReport(**step) for name, step in data.get("steps", {}).items()}
        fields = {k: v for k, v in data.items() if k in ("loaded", "kept", "privacy", "stats", "split", "config", "style", "style_changes")}
        report = cls(**fields)
        report.steps.update(steps)
        return report


def _clean_one(post: Post, c: CleanConfig, names, report: CleanReport) -> str | None:
    """The cleaned text of one post, or None when a step removes it (the report says which)."""
    text = post.text
    if c.drop_retweets and (post.is_retweet or RETWEET_PREFIX.match(text)):
        return report.drop("retweets", text)
    if post.is_reply or t.LEADING_HANDLES.match(text):
        if c.replies == "drop":
            return report.drop("replies", text)
        if c.replies == "strip":
            text = report.change("replies", text, t.strip_leading_handles(text))
    if c.html:
        text = report.change("html", text, t.strip_html(text))
    # before links and handles: ＠ｈａｎｄｌｅ becomes ＠handle. The width rules and the Japanese marks are
    # reported as one step (with NFKC, ！ folds to ! and the Japanese marks put it back: the net change)
    normalized = t.normalize_unicode(text, c.unicode_form)
    if c.japanese_marks and t.script_of(normalized, post.lang) == "ja":
        normalized = t.full_width_marks(normalized, c.unify_wave_dash)
    text = report.change("unicode", text, normalized)
    if c.urls != "keep":
        before = text
        text, found = t.URL.subn("<url>" if c.urls == "mask" else "", text)
        report.privacy["url"] += found
        report.change("urls", before, text)
        if found and not re.search(r"\w", t.URL.sub("", text).replace("<url>", "")):
            return report.drop("links_only", before)
    if c.mentions != "keep":
        before = text
        text, found = t.HANDLE.subn("@user" if c.mentions == "mask" else "", text)
        report.privacy["handle"] += found
        report.change("mentions", before, text)
    if c.hashtags == "remove":
        text = report.change("hashtags", text, t.remove_hashtags(text))
    text = report.change("runs", text, t.cap_runs(text, c.max_run, c.run_chars))
    before = text
    for kind, enabled, scrub in (("email", c.scrub_emails, scrub_emails), ("phone", c.scrub_phones, scrub_phones)):
        if enabled:
            text, found = scrub(text)
            report.privacy[kind] += found
    text, found = scrub_names(text, names)
    report.privacy["name"] += found
    report.change("privacy", before, text)
    text = t.normalize_whitespace(text)
    if not text:
        return report.drop("empty", post.text)
    if c.languages and post.lang and post.lang.lower() not in c.languages:
        return report.drop("language", text)
    if t.too_short(text, c.min_chars_cjk, c.min_words):
        return report.drop("too_short", text)
    return text


def clean_posts(posts: list[Post], config: CleanConfig | None = None) -> tuple[list[Post], CleanReport]:
    """Run the whole pipeline; raises InputError when nothing is left."""
    config = config or CleanConfig()
    report = CleanReport(loaded=len(posts), config=config.to_dict())
    names = names_pattern(config.scrub_names)
    kept, raw, seen = [], [], set()
    for post in posts:
        text = _clean_one(post, config, names, report)
        if text is None:
            continue
        key = t.dedupe_key(text)
        if key in seen:
            report.drop("duplicates", text)
            continue
        seen.add(key)
        kept.append(replace(post, text=text))
        raw.append(post.text)
    if config.near_duplicates and len(kept) > 1:
        repeats = near_duplicates([p.text for p in kept], config.near_dup_threshold)
        for index in sorted(repeats):
            report.drop("near_duplicates", kept[index].text)
            s = report.steps["near_duplicates"]
            if len(s.examples) <= EXAMPLES_PER_STEP and "text" in s.examples[-1] and s.examples[-1]["text"] == kept[index].text[:EXAMPLE_CHARS]:
                s.examples[-1]["like"] = kept[repeats[index]].text[:EXAMPLE_CHARS]
        kept = [p for i, p in enumerate(kept) if i not in repeats]
        raw = [x for i, x in enumerate(raw) if i not in repeats]
    report.kept = len(kept)
    if not kept:
        raise InputError(f"No posts left after cleaning ({report.summary()}). "
                         "Upload posts the person wrote themselves, or relax the cleaning options.")
    report.stats = post_stats(kept)
    style_check(report, raw, [p.text for p in kept])
    return kept, report


def style_check(report: CleanReport, raw: list[str], cleaned: list[str]) -> None:
    """The style profile of the kept posts as uploaded and as cleaned (the same seeded sample of both)."""
    picked = sample(len(cleaned))
    report.style = {"raw": profile([raw[i] for i in picked]), "cleaned": profile([cleaned[i] for i in picked]),
                    "posts": len(picked)}
    ran = {name for name, step in report.steps.items() if step.changed}
    report.style_changes = style_changes(report.style["raw"], report.style["cleaned"], ran)


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def post_stats(posts: list[Post]) -> dict:
    """Date range, language mix and length distribution (characters) of the kept posts."""
    dates = sorted(d for d in (parse_date(p.created_at) for p in posts) if d)
    lengths = sorted(len(p.text) for p in posts)
    return {
        "date_range": [dates[0].date().isoformat(), dates[-1].date().isoformat()] if dates else None,
        "languages": dict(Counter(p.lang or "unknown" for p in posts).most_common()),
        "length_chars": {"min": lengths[0], "median": statistics.median(lengths),
                         "p90": lengths[int(0.9 * (len(lengths) - 1))], "max": lengths[-1]},
        "japanese_share": round(sum(t.script_of(p.text, p.lang) == "ja" for p in posts) / len(posts), 3),
    }


def split_posts(posts: list[Post], config: CleanConfig | None = None) -> tuple[list[Post], list[Post]]:
    """Deterministic train/validation split: seeded random, or the newest posts as validation.
    Fewer than 10 posts are all kept for training."""
    config = config or CleanConfig()
    n_val = round(len(posts) * config.validation_fraction) if len(posts) >= 10 else 0
    if config.validation_fraction > 0 and len(posts) >= 10:
        n_val = max(1, n_val)
    if n_val == 0:
        return list(posts), []
    if config.validation == "newest":
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        order = sorted(range(len(posts)), key=lambda i: (parse_date(posts[i].created_at) or epoch, i))
    else:
        order = list(range(len(posts)))
        random.Random(config.split_seed).shuffle(order)
    held = set(order[-n_val:])
    return [p for i, p in enumerate(posts) if i not in held], [p for i, p in enumerate(posts) if i in held]
