"""X archives: the pre-2019 layout's `tweets.csv`, and the long posts of a modern archive's `note-tweet.js`.

`tweets.csv` (columns tweet_id, in_reply_to_status_id, in_reply_to_user_id, timestamp, source,
text, retweeted_status_id, ..., expanded_urls) is read alone or from the old zip (`tweets.csv` at
its top, beside `data/js/...`), one post per record, exactly as `csv` reads it.

`note-tweet.js` (`window.YTD.note_tweet.part0`) holds the full text of posts longer than 280
characters; `tweets.js` holds only their truncated version. The rule: a note gives its
`noteTweet.core.text` to the tweet posted at the same second (`createdAt` against `created_at`, up
to NOTE_SECONDS apart), else to the tweet whose text, less a trailing ellipsis and link, the note's
text starts with. A note matching no tweet is left out (it may be a draft or deleted).
`deleted-tweets.js` is never read.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from studio.errors import InputError
from studio.ingest.base import Post
from studio.ingest.table import read_records

TWEETS_CSV_COLUMNS = ("tweet_id", "timestamp", "text")
NOTE_SECONDS = 2
NOTE_MEMBER = re.compile(r"^((?:.*/)?)data/note-tweet(?:-part\d+)?\.js$")
_YTD_NOTE = re.compile(r"\s*window\.YTD\.note_tweet\.part\d+\s*=\s*")


def is_tweets_csv(text: str) -> bool:
    """The header of an old archive's tweets.csv."""
    header = text.lstrip("\ufeff")[:1000].split("\n", 1)[0].replace('"', "").strip().split(",")
    return all(column in header for column in TWEETS_CSV_COLUMNS)


def parse_tweets_csv(text: str, source: str = "x") -> list[Post]:
    """Posts from a pre-2019 X archive's tweets.csv; retweets flagged by retweeted_status_id."""
    header, rows = read_records(text.lstrip("\ufeff"), source)
    missing = [c for c in TWEETS_CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{source}: not an X archive's tweets.csv (no {', '.join(missing)} column). "
                         "Upload tweets.csv from the archive as it is, or the whole archive .zip.")
    posts = []
    for row in rows:
        text_ = row.get("text") or ""
        reply_id = (row.get("in_reply_to_status_id") or "").strip()
        posts.append(Post(
            text=text_, source="x", created_at=_csv_time(row.get("timestamp")),
            id=(row.get("tweet_id") or "").strip() or None,
            is_retweet=bool((row.get("retweeted_status_id") or "").strip()) or text_.startswith("RT @"),
            is_reply=bool(reply_id or (row.get("in_reply_to_user_id") or "").strip()),
            reply_to_id=reply_id or None,
        ))
    return posts


def parse_notes(text: str, source: str) -> list[dict]:
    """The `noteTweet` objects of a note-tweet.js."""
    try:
        items = json.loads(_YTD_NOTE.sub("", text, count=1).strip().rstrip(";"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: note-tweet.js is not valid JSON ({exc.msg}); the file may be cut short: "
                         "export the archive again.") from exc
    if not isinstance(items, list):
        raise InputError(f"{source}: note-tweet.js should hold a list of long posts; export the archive again.")
    return [item["noteTweet"] for item in items if isinstance(item, dict) and isinstance(item.get("noteTweet"), dict)]


def _csv_time(value: str | None) -> str | None:
    """tweets.csv's '2012-01-31 12:00:00 +0000' as ISO 8601 UTC; None when unreadable."""
    try:
        when = datetime.strptime((value or "").strip(), "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    return when.astimezone(UTC).isoformat()


def _when(value: str | None) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp() if value else None
    except ValueError:
        return None


def _stem(text: str) -> str:
    return re.sub(r"(?:\s*https?://\S+)+\s*$", "", text).rstrip().rstrip("…").rstrip()


def with_notes(posts: list[Post], notes: list[dict]) -> int:
    """Give each note's full text to its truncated tweet (see the module's docstring); how many were matched."""
    matched = 0
    free = list(posts)
    for note in notes:
        full = str(((note.get("core") or {}).get("text")) or "")
        if not full:
            continue
        when = _when(note.get("createdAt"))
        post = next((p for p in free if when is not None and (t := _when(p.created_at)) is not None
                     and abs(t - when) <= NOTE_SECONDS and full.startswith(_stem(p.text)[:20])), None)
        post = post or next((p for p in free if len(_stem(p.text)) >= 20 and full.startswith(_stem(p.text))), None)
        if post is not None:
            post.text = full
            free.remove(post)
            matched += 1
    return matched
