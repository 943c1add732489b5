"""Cleaning: pure functions over posts, and the pipeline that reports what each step removed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from studio.errors import InputError
from studio.ingest import Post

EXAMPLES_PER_STEP = 5


@dataclass
class CleanReport:
    """What the pipeline did: counts per step and a few examples of what each step removed."""

    loaded: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    kept: int = 0

    def drop(self, step: str, post: Post) -> None:
        self.removed[step] = self.removed.get(step, 0) + 1
        shown = self.examples.setdefault(step, [])
        if len(shown) < EXAMPLES_PER_STEP:
            shown.append(post.text)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        steps = ", ".join(f"{n} {step}" for step, n in self.removed.items() if n)
        return f"{self.loaded} loaded, {self.kept} kept" + (f" (removed: {steps})" if steps else "")


def normalize_whitespace(text: str) -> str:
    """Trim the post and each of its lines; keep the line breaks the person wrote."""
    return "\n".join(line.strip() for line in text.strip().splitlines())


def clean_posts(posts: list[Post]) -> tuple[list[Post], CleanReport]:
    """Strip whitespace, drop empty posts and exact duplicates (first one kept)."""
    report = CleanReport(loaded=len(posts), removed={"empty": 0, "duplicates": 0})
    seen: set[str] = set()
    kept: list[Post] = []
    for post in posts:
        text = normalize_whitespace(post.text)
        if not text:
            report.drop("empty", post)
        elif text in seen:
            report.drop("duplicates", post)
        else:
            seen.add(text)
            kept.append(Post(text=text, source=post.source, created_at=post.created_at, lang=post.lang))
    report.kept = len(kept)
    if not kept:
        raise InputError(f"No posts left after cleaning ({report.summary()}). Upload a file with some non-empty posts.")
    return kept, report
