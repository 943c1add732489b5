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
from studio.clean.privacy import names_pattern, privacy_example, scrub_addresses, scrub_emails, scrub_names, scrub_phones
from studio.clean.scrub_log import record as log_scrubbed
from studio.clean.sources import apportion, count_drop, groups, source_key, summary_part, tally_loaded
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
    privacy: dict[str, int] = field(default_factory=lambda: {"url": 0, "email": 0, "phone": 0, "address": 0, "handle": 0, "name": 0})
    stats: dict = field(default_factory=dict)
    split: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    style: dict = field(default_factory=dict)  # {"raw": profile, "cleaned": profile} of the kept posts (clean/style.py)
    style_changes: list[dict] = field(default_factory=list)  # measure, raw, cleaned, change, by (steps documenting it)
    sources: dict[str, dict] = field(default_factory=dict)  # per upload: kind, loaded, removed per step, kept
    scrubbed: dict = field(default_factory=dict)  # salted hashes of what the privacy step replaced (clean/scrub_log.py)

    def __post_init__(self):
        self.at: str | None = None  # the source of the post being cleaned (not saved): drop() counts it there

    @property
    def removed(self) -> dict[str, int]:
        return {name: s.removed for name, s in self.steps.items() if s.removed}

    def drop(self, step: str, text: str, source: str | None = None) -> None:
        """Count a removed post, under its source too (`source`, else the post being cleaned)."""
        if self.sources:
            count_drop(self.sources, source or self.at, step)
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
        line = f"{self.loaded} loaded, {self.kept} kept" + (f" (removed: {removed})" if removed else "")
        return line + (f"; by source: {summary_part(self.sources)}" if len(self.sources) > 1 else "")

    def source_funnel(self) -> list[dict]:
        """One row per source: kind, loaded, removed per step (0 where none), kept, and its share of the kept posts."""
        total = sum(s["kept"] for s in self.sources.values()) or 1
        return [{"source": name, "kind": s["kind"], "loaded": s["loaded"],
                 **{step: s["removed"].get(step, 0) for step in self.removed}, "kept": s["kept"],
                 "share": round(s["kept"] / total, 3)} for name, s in self.sources.items()]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["removed"] = self.removed
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CleanReport":
        """The inverse of to_dict (a job reads the report its request was saved with)."""
        steps = {name: StepReport(**step) for name, step in data.get("steps", {}).items()}
        fields = {k: v for k, v in data.items() if k in ("loaded", "kept", "privacy", "stats", "split", "config", "sources", "style", "style_changes", "scrubbed")}
        report = cls(**fields)
        report.steps.update(steps)
        return report


def privacy_scrubs(c: CleanConfig, lang: str | None, names) -> list[tuple[str, object]]:
    """(kind, scrub) in the order they run, for the kinds the options turn on: the one list that the posts
    and the messages they answered are both scrubbed with. A scrub returns (text, what it replaced)."""
    scrubs = (("email", c.scrub_emails, scrub_emails), ("phone", c.scrub_phones, lambda x: scrub_phones(x, lang)),
              ("address", c.scrub_addresses, lambda x: scrub_addresses(x, lang)), ("name", True, lambda x: scrub_names(x, names)))
    return [(kind, scrub) for kind, enabled, scrub in scrubs if enabled]


def _scrub_privacy(text: str, lang: str | None, c: CleanConfig, names, report: CleanReport) -> str:
    """E-mails, phones, then the user's names: counted per kind, and up to EXAMPLES_PER_STEP examples
    of each kind in the privacy step (kind, the words around it before -> after)."""
    s = report.steps["privacy"]
    before = text
    for kind, scrub in privacy_scrubs(c, lang, names):
        prior, (text, found) = text, scrub(text)
        report.privacy[kind] += len(found)
        for value in found:
            log_scrubbed(report.scrubbed, kind, value)
        shown = sum(e.get("kind") == kind for e in s.examples)
        for value in found[:max(0, EXAMPLES_PER_STEP - shown)]:
            s.examples.append({"kind": kind, **privacy_example(prior, value, kind)})
    if text != before:
        s.changed += 1
    return text


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
    text = _scrub_privacy(text, post.lang, c, names, report)
    text = t.normalize_whitespace(text)
    if not text:
        return report.drop("empty", post.text)
    if c.languages and post.lang and post.lang.lower() not in c.languages:
        return report.drop("language", text)
    if t.too_short(text, c.min_chars_cjk, c.min_words):
        return report.drop("too_short", text)
    return text


def scrub_context(context: str | None, lang: str | None, c: CleanConfig, names) -> str | None:
    """The answered message (someone else's words, a chat's user turn) gets the same privacy scrub as the
    post: e-mails, phone numbers, addresses (when asked) and listed names; links and @handles as the options
    say. Not counted."""
    if not context:
        return context
    if c.urls != "keep":
        context = t.URL.sub("<url>" if c.urls == "mask" else "", context)
    if c.mentions != "keep":
        context = t.HANDLE.sub("@user" if c.mentions == "mask" else "", context)
    for _, scrub in privacy_scrubs(c, lang, names):
        context = scrub(context)[0]
    return t.normalize_whitespace(context) or None


def clean_posts(posts: list[Post], config: CleanConfig | None = None) -> tuple[list[Post], CleanReport]:
    """Run the whole pipeline; raises InputError when nothing is left."""
    config = config or CleanConfig()
    report = CleanReport(loaded=len(posts), config=config.to_dict(), sources=tally_loaded(posts))
    names = names_pattern(config.scrub_names)
    kept, raw, seen = [], [], {}  # seen: hash of a kept post's dedupe key -> its index: a million keys as strings took 250 MB
    for post in posts:
        report.at = source_key(post)
        text = _clean_one(post, config, names, report)
        if text is None:
            continue
        key = t.dedupe_key(text)
        earlier = seen.setdefault(hash(key), len(kept))
        if earlier != len(kept) and t.dedupe_key(kept[earlier].text) == key:  # a hash collision is not a duplicate
            report.drop("duplicates", text)
            continue
        kept.append(replace(post, text=text, context=scrub_context(post.context, post.lang, config, names)))
        raw.append(post.text)
    del seen
    if config.near_duplicates and len(kept) > 1:
        repeats = near_duplicates([p.text for p in kept], config.near_dup_threshold)
        for index in sorted(repeats):
            report.drop("near_duplicates", kept[index].text, source_key(kept[index]))
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
    """Deterministic train/validation split: seeded random, or the newest posts as validation, taken from each
    source (upload) in proportion to its size, so that every source with 2 or more posts is in both parts (a
    source of one post goes to training). Fewer than 10 posts are all kept for training."""
    config = config or CleanConfig()
    n_val = round(len(posts) * config.validation_fraction) if len(posts) >= 10 else 0
    if config.validation_fraction > 0 and len(posts) >= 10:
        n_val = max(1, n_val)
    if n_val == 0:
        return list(posts), []
    parts = groups(posts)
    if all(len(part) < 2 for part in parts):
        parts = [list(range(len(posts)))]
    rng, epoch, held = random.Random(config.split_seed), datetime.min.replace(tzinfo=timezone.utc), set()
    for order, quota in zip(parts, apportion([len(part) for part in parts], n_val)):
        if config.validation == "newest":
            order = sorted(order, key=lambda i: (parse_date(posts[i].created_at) or epoch, i))
        else:
            rng.shuffle(order)
        held.update(order[len(order) - quota:] if quota else ())
    return [p for i, p in enumerate(posts) if i not in held], [p for i, p in enumerate(posts) if i in held]
