"""Mastodon exports: the archive (`archive-*.tar.gz`, or `.zip` since Mastodon 4.1) or its `outbox.json`.

The outbox is an ActivityPub OrderedCollection. `Create` activities of the owner's own notes are
posts; `Announce` activities (boosts) become posts flagged `is_retweet` so cleaning can count them.
Followers-only and direct posts are private conversation: skipped unless `include_private`.
Only `outbox.json` is read from an archive (likes, bookmarks and media are never opened).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from studio.errors import InputError
from studio.ingest.archives import is_gzip, is_tar, is_zip, read_tar_member, read_zip, zip_names
from studio.ingest.base import Post, read_text

PUBLIC = {"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"}
NOTE_TYPES = ("Note", "Question")  # a poll's question is the owner's words too
_STATUS_URI = re.compile(r"^https?://([^/]+)/users/([^/]+)/statuses/")


def is_outbox(text: str) -> bool:
    """Whether JSON text looks like an ActivityPub outbox (checked on its first 64 KB)."""
    head = text[:65536]
    return text.lstrip().startswith("{") and ('"orderedItems"' in head or '"OrderedCollection"' in head)


def is_outbox_member(name: str) -> bool:
    """`outbox.json` at the top of an archive, or inside one folder (a re-packed export)."""
    parts = PurePosixPath(name.replace("\\", "/").removeprefix("./")).parts
    return bool(parts) and parts[-1] == "outbox.json" and len(parts) <= 2


def load_mastodon(path: Path, include_private: bool = False, names: list[str] | None = None) -> tuple[list[Post], int]:
    """(posts, how many followers-only/direct posts were skipped) from an archive or an outbox.json.

    `names`: the member names when `path` is a zip whose names the caller already listed.
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(512)
    if names is not None or is_zip(head):
        members = [n for n in (names if names is not None else zip_names(path)) if is_outbox_member(n)]
        if not members:
            raise _no_outbox(path)
        data = read_zip(path, [min(members, key=len)])[0]
    elif is_gzip(head) or is_tar(head):
        found = read_tar_member(path, is_outbox_member)
        if found is None:
            raise _no_outbox(path)
        data = found[1]
    else:
        data = path.read_bytes()
    return parse_outbox(read_text(data, path.name), path.name, include_private=include_private)


def _no_outbox(path: Path) -> InputError:
    return InputError(f"{path.name}: no outbox.json inside: is this a Mastodon archive? "
                      "Upload the archive Mastodon sends (Preferences > Import and export > Request your archive).")


def parse_outbox(text: str, source: str, include_private: bool = False) -> tuple[list[Post], int]:
    """(posts, skipped) from the text of an outbox.json; skipped counts followers-only and direct posts."""
    try:
        outbox = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: outbox.json is not valid JSON ({exc.msg} at line {exc.lineno}); "
                         "it may be cut short: request the archive again.") from exc
    items = outbox.get("orderedItems") if isinstance(outbox, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{source}: not a Mastodon outbox (no 'orderedItems' list). "
                         "Upload outbox.json from the archive, or the whole archive.")
    posts, skipped = [], 0
    for activity in items:
        post = activity_to_post(activity, source) if isinstance(activity, dict) else None
        if post is None:
            continue
        if post.visibility in ("private", "direct") and not include_private:
            skipped += 1
            continue
        posts.append(post)
    return posts, skipped


def activity_to_post(activity: dict, source: str) -> Post | None:
    """A Post for an owner's Create(Note) or an Announce (boost); None for anything else."""
    kind, actor, obj = activity.get("type"), _id(activity.get("actor")), activity.get("object")
    if kind == "Announce":
        return Post(text=_id(obj) or "", source=source, created_at=activity.get("published"),
                    id=activity.get("id"), is_retweet=True, visibility=visibility(activity))
    if kind != "Create" or not isinstance(obj, dict) or obj.get("type") not in NOTE_TYPES:
        return None
    if actor and _id(obj.get("attributedTo")) not in (None, actor):
        return None  # someone else's note: not the owner's words
    content_map = obj.get("contentMap") if isinstance(obj.get("contentMap"), dict) else {}
    reply = _id(obj.get("inReplyTo"))
    return Post(
        text=html_to_text(obj.get("content") or next(iter(content_map.values()), "") or ""),
        source=source,
        created_at=obj.get("published") or activity.get("published"),
        lang=next(iter(content_map), None) or obj.get("language"),
        id=obj.get("id"),
        is_reply=bool(reply),
        reply_to=_handle(reply),
        reply_to_id=reply or None,
        content_warning=obj.get("summary") or None,
        visibility=visibility(obj if "to" in obj else activity),
    )


def visibility(item: dict) -> str:
    """Mastodon's visibility from the addressing: public, unlisted, private (followers only) or direct."""
    to, cc = _list(item.get("to")), _list(item.get("cc"))
    if PUBLIC & set(to):
        return "public"
    if PUBLIC & set(cc):
        return "unlisted"
    if any(str(a).endswith("/followers") for a in to + cc):
        return "private"
    return "direct"


def _list(value) -> list:
    return value if isinstance(value, list) else [value] if value else []


def _id(value) -> str | None:
    """An ActivityPub reference: a URI string, or an object carrying one in `id`."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _handle(status_uri: str | None) -> str | None:
    """`bob@example.social` for a reply to https://example.social/users/bob/statuses/1; None when unknown."""
    match = _STATUS_URI.match(status_uri or "")
    return f"{match.group(2)}@{match.group(1)}" if match else None


class _TextExtractor(HTMLParser):
    """Mastodon's post HTML as plain text: <br> a newline, paragraphs a blank line, links their text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of a post's HTML (entities unescaped; a link's hidden 'https://' parts kept)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()
