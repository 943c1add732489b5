"""Meta's "Download your information" JSON: Messenger and Instagram messages, and Instagram posts.

Messages: `message_1.json` per conversation, `{"participants": [{"name"}], "messages": [{"sender_name",
"timestamp_ms", "content"}]}`, newest first (put in time order here). Instagram's have `magic_words`
(or the file's path says instagram); the rest are Messenger. Reactions, "sent an attachment", shares
without words and calls are not the person's words and are dropped.
Posts: `posts_1.json`, a list of `{"media": [{"uri", "creation_timestamp", "title"}], "title"?}`:
the caption is the post's `title`, else its first media's.
Meta writes text as UTF-8 bytes read as Latin-1 (`ð\\x9f\\x98\\x80` for 😀): `fix_mojibake` undoes that where
the text round-trips, and leaves any other text as it is.
"""

from __future__ import annotations

import re

from studio.ingest.base import Post
from studio.ingest.chat_json import load_json, not_the_export
from studio.ingest.chats import is_media, iso_from_epoch, with_context

MESSAGES_HEAD = re.compile(r'"participants"\s*:.*"messages"\s*:|"messages"\s*:.*"participants"\s*:', re.DOTALL)
POSTS_HEAD = re.compile(r'^\s*(?:\[\s*\{\s*"media"\s*:|\{\s*"ig_posts"\s*:)')


def fix_mojibake(text: str) -> str:
    """Meta's mis-encoded UTF-8 repaired: Latin-1 back to bytes, read as UTF-8; unchanged where that fails."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def is_meta_messages(text: str) -> bool:
    return text.lstrip()[:1] == "{" and bool(MESSAGES_HEAD.search(text[:20000]))


def is_instagram_posts(text: str) -> bool:
    return bool(POSTS_HEAD.match(text[:200]))


def parse_meta_messages(text: str, source_name: str) -> list[Post]:
    """One Messenger or Instagram conversation, in time order, each message with its speaker and context."""
    data = load_json(text, source_name, "Messenger or Instagram conversation")
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise not_the_export(source_name, "a Messenger or Instagram conversation (message_1.json)", "no 'messages' list")
    messages = [m for m in data["messages"] if isinstance(m, dict)]
    if messages and not any("sender_name" in m or "senderName" in m for m in messages):
        raise not_the_export(source_name, "a Messenger or Instagram conversation (message_1.json)", "its messages have no 'sender_name'")
    source = "instagram" if "magic_words" in data or "instagram" in source_name.lower() else "messenger"
    posts = []
    for m in messages:
        body = fix_mojibake(str(m.get("content") or m.get("text") or ""))
        sender = fix_mojibake(str(m.get("sender_name") or m.get("senderName") or "")).strip()
        stamp = m.get("timestamp_ms") or m.get("timestamp")
        if m.get("type", "Generic") not in ("Generic", "text") or m.get("is_unsent") or m.get("isUnsent"):
            continue
        if not body.strip() or not sender or is_media(body):
            continue
        posts.append(Post(text=body, source=source, speaker=sender,
                          created_at=iso_from_epoch(stamp / 1000) if isinstance(stamp, (int, float)) else None))
    posts.sort(key=lambda p: p.created_at or "")
    for i, post in enumerate(posts):
        post.id = f"{source}-{i}"
    return with_context(posts)


def caption(post: dict) -> str:
    media = [m for m in post.get("media") or [] if isinstance(m, dict)]
    return str(post.get("title") or next((m.get("title") for m in media if m.get("title")), "") or "")


def parse_instagram_posts(text: str, source_name: str) -> list[Post]:
    """The captions of Instagram's posts_1.json (posts without one are skipped)."""
    data = load_json(text, source_name, "Instagram posts")
    if isinstance(data, dict):
        data = data.get("ig_posts")
    if not isinstance(data, list) or not any(isinstance(p, dict) and "media" in p for p in data):
        raise not_the_export(source_name, "an Instagram posts export (posts_1.json)", "no posts with 'media'")
    posts = []
    for i, item in enumerate(p for p in data if isinstance(p, dict)):
        text_ = fix_mojibake(caption(item))
        media = [m for m in item.get("media") or [] if isinstance(m, dict)]
        stamp = item.get("creation_timestamp") or (media[0].get("creation_timestamp") if media else None)
        if text_.strip():
            posts.append(Post(text=text_, source="instagram", id=f"instagram-post-{i}",
                              created_at=iso_from_epoch(stamp) if isinstance(stamp, (int, float)) else None))
    return posts
