"""Several uploads, one persona: each source's share of the funnel, and a split that keeps every source in both parts.

A source is one upload (`Post.upload`, its file name); `Post.source` says what kind of export it was. The report
keeps, per upload, its kind and counts only (loaded, removed per step, kept): never its posts.
"""

from __future__ import annotations

from collections import defaultdict

from studio.ingest.base import KINDS

UNNAMED = "posts"
"""The source of posts that name none (posts built in code)."""


def source_key(post) -> str:
    """The upload a post (a Post, or its dict) is counted under."""
    if isinstance(post, dict):
        return post.get("upload") or post.get("source") or UNNAMED
    return post.upload or post.source or UNNAMED


def new_source(kind: str) -> dict:
    return {"kind": kind or "", "loaded": 0, "removed": {}, "kept": 0}


def tally_loaded(posts) -> dict[str, dict]:
    """{source: counts} for the posts as loaded, in the order the sources first appear."""
    sources: dict[str, dict] = {}
    for post in posts:
        entry = sources.get(source_key(post))
        if entry is None:
            entry = sources[source_key(post)] = new_source(post.source)
        entry["loaded"] += 1
    for entry in sources.values():
        entry["kept"] = entry["loaded"]
    return sources


def count_drop(sources: dict[str, dict], source: str | None, step: str) -> None:
    entry = sources.setdefault(source or UNNAMED, new_source(""))
    entry["removed"][step] = entry["removed"].get(step, 0) + 1
    entry["kept"] -= 1


def mix(sources: dict[str, dict]) -> dict[str, float]:
    """Each source's share of the kept posts."""
    total = sum(max(0, s["kept"]) for s in sources.values())
    return {name: round(max(0, s["kept"]) / total, 3) if total else 0.0 for name, s in sources.items()}


def by_kind(sources: dict[str, dict]) -> dict[str, dict]:
    """{kind label: {"sources": n, "loaded": n, "kept": n}}: what a published report says (no file names)."""
    kinds: dict[str, dict] = defaultdict(lambda: {"sources": 0, "loaded": 0, "kept": 0})
    for entry in sources.values():
        row = kinds[KINDS.get(entry.get("kind") or "", entry.get("kind") or "posts")]
        row["sources"] += 1
        row["loaded"] += int(entry.get("loaded", 0))
        row["kept"] += int(entry.get("kept", 0))
    return dict(kinds)


def kinds_line(sources: dict | None) -> str:
    """'X archive 700 of 1986, CSV/TSV table 3900 of 4406' (kept of loaded), or '' without sources."""
    parts = []
    for kind, row in by_kind(sources or {}).items():
        files = f" ({row['sources']} files)" if row["sources"] > 1 else ""
        parts.append(f"{kind}{files}: {row['kept']} kept of {row['loaded']}")
    return ", ".join(parts)


def summary_part(sources: dict[str, dict]) -> str:
    """The CLI's per-source part: 'a.zip (x) 1986 -> 700 (15%); b.csv (csv) 4406 -> 3900 (85%)'."""
    shares = mix(sources)
    return "; ".join(f"{name} ({s['kind'] or '?'}) {s['loaded']} -> {s['kept']} ({shares[name]:.0%})"
                     for name, s in sources.items())


def apportion(sizes: list[int], n: int) -> list[int]:
    """Validation posts per group: about n * size / total each (largest remainders), at least 1 and at most
    size - 1 where the sizes allow. Groups of one post get none; with fewer than one per group, the largest get one."""
    eligible = [i for i, s in enumerate(sizes) if s >= 2]
    quotas = [0] * len(sizes)
    if n <= 0 or not eligible:
        return quotas
    if n < len(eligible):
        for i in sorted(eligible, key=lambda i: (-sizes[i], i))[:n]:
            quotas[i] = 1
        return quotas
    total = sum(sizes[i] for i in eligible)
    ideal = {i: n * sizes[i] / total for i in eligible}
    for i in eligible:
        quotas[i] = min(sizes[i] - 1, max(1, int(ideal[i])))
    while sum(quotas) < n:
        room = [i for i in eligible if quotas[i] < sizes[i] - 1]
        if not room:
            break
        quotas[max(room, key=lambda i: (ideal[i] - quotas[i], -i))] += 1
    while sum(quotas) > n:
        spare = [i for i in eligible if quotas[i] > 1]
        quotas[max(spare, key=lambda i: (quotas[i] - ideal[i], -i))] -= 1
    return quotas


def groups(posts) -> list[list[int]]:
    """Indexes of the posts of each source, in the order the sources first appear."""
    found: dict[str, list[int]] = {}
    for i, post in enumerate(posts):
        found.setdefault(source_key(post), []).append(i)
    return list(found.values())


def split_counts(train, validation) -> dict[str, list[int]]:
    """{source: [train posts, validation posts]}."""
    counts: dict[str, list[int]] = {}
    for part, posts in enumerate((train, validation)):
        for post in posts:
            counts.setdefault(source_key(post), [0, 0])[part] += 1
    return counts
