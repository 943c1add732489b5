"""X (Twitter) archives: the `.zip` as X exports it, or its bare `tweets.js`.

Only the person's own tweets are read: `data/tweets.js` (older archives: `data/tweet.js`; large
ones are split into `tweets-part1.js`, `tweets-part2.js`, ...). `like.js`, direct messages and
every other member are never opened: they are other people's words.

Each `.js` file is JSON behind a JavaScript assignment (`window.YTD.tweets.part0 = [...]`).
Text is kept as X stores it (HTML entities included: cleaning unescapes them), except that t.co
links are put back to the URLs they stand for and t.co links of attached media are dropped.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from studio.errors import InputError
from studio.ingest.archives import read_zip, zip_names
from studio.ingest.base import Post, read_text
from studio.ingest.x_legacy import NOTE_MEMBER, parse_notes, parse_tweets_csv, with_notes

_YTD = re.compile(r"\s*window\.YTD\.([\w-]+)\.part(\d+)\s*=\s*")
_MEMBER = re.compile(r"^((?:.*/)?)data/(tweets?)(?:-part(\d+))?\.js$")
TWEET_KINDS = ("tweets", "tweet")


def ytd_kind(text: str) -> str | None:
    """`tweets` for a file starting `window.YTD.tweets.part0 = [`, `like` for like.js, ...; None otherwise."""
    match = _YTD.match(text[:200])
    return match.group(1) if match else None


def tweet_members(names: list[str]) -> list[str]:
    """The tweets files among zip member names, in part order (`tweets.js` = part 0)."""
    found = [(m.group(1), int(m.group(3) or 0), name) for name in names if (m := _MEMBER.match(name.replace("\\", "/")))]
    if not found:
        return []
    # One archive per zip: a re-zipped folder may add a prefix (`twitter-2022-.../data/tweets.js`).
    prefix = min((p for p, _, _ in found), key=lambda p: (len(p), p))
    return [name for p, _, name in sorted(found, key=lambda f: (f[1], f[2])) if p == prefix]


def parse_x_archive(path: Path, names: list[str] | None = None) -> list[Post]:
    """Posts from an X archive zip: its tweets files only, long posts completed from note-tweet.js;
    a pre-2019 archive's tweets.csv. deleted-tweets.js and every other member are never opened."""
    names = zip_names(path) if names is None else names
    members = tweet_members(names)
    if not members:
        old = sorted((n for n in names if n.replace("\\", "/").rsplit("/", 1)[-1] == "tweets.csv"), key=len)
        if old:
            return parse_tweets_csv(read_text(read_zip(path, old[:1])[0], f"{path.name}:{old[0]}"), f"{path.name}:{old[0]}")
        raise InputError(f"{path.name}: no data/tweets.js inside: is this an X archive? "
                         "Upload the .zip X sends (Settings and privacy > Your account > Download an archive of your data), "
                         "its data/tweets.js, or a Mastodon archive (outbox.json).")
    prefix = _MEMBER.match(members[0].replace("\\", "/")).group(1)
    notes = [n for n in names if (m := NOTE_MEMBER.match(n.replace("\\", "/"))) and m.group(1) == prefix]
    posts: list[Post] = []
    datas = read_zip(path, members + notes)
    for name, data in zip(members, datas):
        posts.extend(parse_tweets_js(read_text(data, f"{path.name}:{name}"), path.name))
    for name, data in zip(notes, datas[len(members):]):
        with_notes(posts, parse_notes(read_text(data, f"{path.name}:{name}"), f"{path.name}:{name}"))
    return posts


def parse_tweets_js(text: str, source: str) -> list[Post]:
    """Posts from the text of a `tweets.js` / `tweet.js` (or one of its parts)."""
    kind = ytd_kind(text)
    if kind is None:
        raise InputError(f"{source}: not an X archive file (it should start with 'window.YTD.tweets.part0 = ['). "
                         "Upload data/tweets.js from the archive, or the whole archive .zip.")
    if kind == "note_tweet":
        raise InputError(f"{source} holds only the full text of long X posts, matched to their tweets in the archive. "
                         "Upload the whole archive .zip (or data/tweets.js).")
    if kind not in TWEET_KINDS:
        raise InputError(f"{source} holds X '{kind}' data, not the person's own tweets. "
                         "Upload data/tweets.js from the archive, or the whole archive .zip.")
    body = _YTD.sub("", text, count=1).strip().rstrip(";")
    try:
        items = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: the tweets data is not valid JSON ({exc.msg} at line {exc.lineno}); "
                         "the file may be cut short: export the archive again.") from exc
    if not isinstance(items, list):
        raise InputError(f"{source}: expected a list of tweets after 'window.YTD.{kind}.part0 ='.")
    return [tweet_to_post(item, source) for item in items if isinstance(item, dict)]


def tweet_to_post(item: dict, source: str) -> Post:
    """One archive item (`{"tweet": {...}}`, or the fields at top level in older archives)."""
    tweet = item.get("tweet") if isinstance(item.get("tweet"), dict) else item
    raw_text = str(tweet.get("full_text") or tweet.get("text") or "")
    status_id = tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id")
    # X also sets in_reply_to_user_id on tweets that open with an @handle: replies to a person.
    user_id = tweet.get("in_reply_to_user_id_str") or tweet.get("in_reply_to_user_id")
    return Post(
        text=expand_links(_without_addressees(raw_text, tweet), tweet),
        source=source,
        created_at=to_iso(tweet.get("created_at")),
        lang=tweet.get("lang") or None,
        id=str(tweet.get("id_str") or tweet.get("id") or "") or None,
        is_retweet=raw_text.startswith("RT @") or tweet.get("retweeted") in (True, "true"),
        is_reply=bool(status_id or user_id),
        reply_to=tweet.get("in_reply_to_screen_name") or _mentioned(tweet, user_id, raw_text),
        reply_to_id=str(status_id) if status_id else None,
    )


def _without_addressees(text: str, tweet: dict) -> str:
    """Drop the leading @names that X marks as outside `display_text_range` (the addressees of a reply).
    Only when that prefix is nothing but @names: older archives set the range to the whole text."""
    try:
        start = int((tweet.get("display_text_range") or [0])[0])
    except (TypeError, ValueError):
        return text
    prefix = text[:start]
    if start and re.fullmatch(r"(?:\s*@\w{1,30})+\s*", prefix):
        return text[start:]
    return text


def expand_links(text: str, tweet: dict) -> str:
    """t.co links replaced by their `expanded_url`; t.co links of attached media removed."""
    entities = tweet.get("entities") or {}
    media = (entities.get("media") or []) + ((tweet.get("extended_entities") or {}).get("media") or [])
    removed = False
    for url in {m.get("url") for m in media if m.get("url")}:
        text, count = re.subn(r"[ \t]*" + re.escape(url) + r"(?![\w/])", "", text)
        removed = removed or bool(count)
    for link in entities.get("urls") or []:
        if link.get("url") and link.get("expanded_url"):
            text = re.sub(re.escape(link["url"]) + r"(?![\w/])", lambda _: link["expanded_url"], text)
    return text.strip() if removed else text


def _mentioned(tweet: dict, user_id, text: str) -> str | None:
    """The handle replied to when X left the screen name out: from the mentions, else the leading @handle."""
    if not user_id:
        return None
    for mention in (tweet.get("entities") or {}).get("user_mentions") or []:
        if str(mention.get("id_str") or mention.get("id")) == str(user_id):
            return mention.get("screen_name")
    match = re.match(r"@(\w{1,15})", text)
    return match.group(1) if match else None


def to_iso(value) -> str | None:
    """X's 'Fri Feb 11 16:54:22 +0000 2022' (or an ISO date) as ISO 8601 UTC; None when unreadable."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(str(value))  # reads X's format whatever the locale
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat()
