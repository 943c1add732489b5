"""Reddit's data export (reddit.com/settings/data-request): `comments.csv` and `posts.csv`, alone or in its zip.

Only those two files are read: the zip's messages, chat history, votes, IPs and the rest are never
opened. `comments.csv` (id, permalink, date, subreddit, link, parent, body, ...) gives one post per
comment, a reply: `reply_to_id` is the id of what it answered (`parent`, else the post in `link`),
the bare id without Reddit's `t1_` / `t3_` kind, so a comment answering the person's own post or
comment points at that post's id. `posts.csv` (id, permalink, date, subreddit, title, url, body, ...)
gives one post per submission: its title, then a blank line and its body when it has one. Bodies
Reddit replaced with `[deleted]` or `[removed]` are kept as empty text (cleaning drops them), so
the count still equals the records.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from studio.errors import InputError
from studio.ingest.base import Post
from studio.ingest.table import read_records

SOURCE = "reddit"
MEMBERS = ("posts.csv", "comments.csv")
_GONE = ("[deleted]", "[removed]")
_POST_IN_LINK = re.compile(r"/comments/([a-z0-9]+)")


def _header(text: str) -> list[str]:
    return text.lstrip("\ufeff")[:1000].split("\n", 1)[0].replace('"', "").strip().lower().split(",")


def is_reddit_csv(text: str) -> bool:
    """The header of Reddit's comments.csv or posts.csv."""
    header = _header(text)
    return {"id", "permalink", "body"} <= set(header) and bool({"parent", "title"} & set(header))


def members(names: list[str]) -> list[str]:
    """posts.csv then comments.csv among a zip's member names (the shortest path of each)."""
    found = []
    for wanted in MEMBERS:
        hits = sorted((n for n in names if n.replace("\\", "/").rsplit("/", 1)[-1].lower() == wanted), key=len)
        found.extend(hits[:1])
    return found


def _iso(value: str | None) -> str | None:
    """Reddit's '2023-01-15 12:34:56 UTC' (or an ISO date) as ISO 8601 UTC; None when unreadable."""
    value = (value or "").strip().removesuffix(" UTC")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (when.replace(tzinfo=UTC) if when.tzinfo is None else when).astimezone(UTC).isoformat()


def _bare(thing: str | None) -> str | None:
    thing = (thing or "").strip()
    return re.sub(r"^t[0-9]_", "", thing) or None


def _body(value: str | None) -> str:
    body = (value or "").strip()
    return "" if body in _GONE else body


def parse_reddit_csv(text: str, name: str) -> list[Post]:
    """Posts from the text of comments.csv (a `parent` column) or posts.csv (a `title` column)."""
    header, rows = read_records(text.lstrip("\ufeff"), name)
    columns = {h.strip().lower() for h in header}
    if not ({"id", "body"} <= columns and {"parent", "title"} & columns):
        raise InputError(f"{name}: not Reddit's comments.csv or posts.csv (it needs the columns id, body and parent "
                         "or title). Upload the files from Reddit's data export as they are, or its zip.")
    rows = [{k.strip().lower(): v for k, v in row.items() if isinstance(k, str)} for row in rows]
    if "parent" in columns:
        return [_comment(row) for row in rows]
    return [Post(text="\n\n".join(part for part in ((row.get("title") or "").strip(), _body(row.get("body"))) if part),
                 source=SOURCE, created_at=_iso(row.get("date")), id=_bare(row.get("id")))
            for row in rows]


def _comment(row: dict) -> Post:
    post_in_link = _POST_IN_LINK.search(row.get("link") or row.get("permalink") or "")
    parent = _bare(row.get("parent")) or (post_in_link.group(1) if post_in_link else None)
    return Post(text=_body(row.get("body")), source=SOURCE, created_at=_iso(row.get("date")), id=_bare(row.get("id")),
                is_reply=True, reply_to_id=parent)
