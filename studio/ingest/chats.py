"""What every chat-log parser shares: the `context` rule, media markers, and picking the speaker.

Context rule: a message's `context` (its training example's user turn) is the last consecutive run of
*other* speakers' messages before the speaker's own run it belongs to, joined with newlines and cut to
its last `CONTEXT_CHARS` characters. So in `A: hi / B: hello / B: how are you`, both of B's messages
answer "hi"; A's first message has no context. Exports that say which message a reply answers
(Telegram's `reply_to_message_id`, Discord's `reference.messageId`) use that message's text instead.
Messages without text (stickers, photos, calls, deleted messages) are dropped before the rule applies.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timezone

from studio.errors import InputError
from studio.ingest.base import Post

CONTEXT_CHARS = 300
"""At most this many characters of the answered messages (their end, nearest the answer)."""

MEDIA_TEXTS = re.compile(
    r"^\s*(?:\[(?:sticker|photo|video|file|album|gif|voice message|audio|location|contact|note|"
    r"スタンプ|写真|動画|ファイル|アルバム|ボイスメッセージ|位置情報|連絡先|ノート)\]|"
    r"<?media omitted>?|<attached: [^>]*>|"
    r"(?:image|video|audio|sticker|gif|document|contact card) omitted|"
    r"this message was deleted\.?|you deleted this message\.?|"
    r"☎.*|missed (?:voice |video )?call|(?:voice|video) call(?:, .{0,30})?|"
    r"liked a message|reacted .{1,12} to your message|.{0,80} sent an attachment\.|"
    r"メッセージの送信を取り消しました|.{0,60} unsent a message\.?)\s*$",
    re.IGNORECASE)
"""Whole-message texts that stand for media or events, not words (LINE, WhatsApp, Meta; English and Japanese)."""


def is_media(text: str) -> bool:
    return bool(MEDIA_TEXTS.match(text.replace("\u200e", "")))


def iso_from_epoch(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def with_context(posts: list[Post], answered: dict[str, str] | None = None) -> list[Post]:
    """Set each message's `context` by the module's rule (posts in time order, one conversation).

    `answered`: message id -> the text of the message it replies to, where the export says so.
    """
    answered = answered or {}
    others: list[str] = []  # the run of other speakers' messages before the current speaker's run
    run: list[str] = []  # the messages of the speaker of the previous message, in its latest run
    speaker = object()
    for post in posts:
        if post.speaker != speaker:
            others, run, speaker = run, [], post.speaker
        explicit = answered.get(post.id or "")
        text = explicit if explicit else "\n".join(others)
        post.context = text[-CONTEXT_CHARS:].strip() or None
        run.append(post.text)
    return posts


def speaker_counts(posts: list[Post]) -> list[tuple[str, int]]:
    """Each chat speaker with their number of messages, most first (posts without a speaker are not counted)."""
    return Counter(p.speaker for p in posts if p.speaker).most_common()


def _listing(counts: list[tuple[str, int]], limit: int = 12) -> str:
    shown = ", ".join(f"{name} ({n})" for name, n in counts[:limit])
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def pick_speakers(posts: list[Post], speakers: list[str] | None) -> list[Post]:
    """Only the chosen speakers' messages (each keeps its `context`); posts without a speaker (a person's
    own posts from other exports) are kept. With no choice, chat logs must have one speaker."""
    counts = speaker_counts(posts)
    if not counts:
        return posts
    chosen = [s.strip() for s in speakers or [] if s and s.strip()]
    if not chosen:
        if len(counts) == 1:
            return posts
        raise InputError(f"The chat log has {len(counts)} speakers: {_listing(counts)}. Choose whose messages are the "
                         "persona's (--speaker NAME, repeatable; in the app, 'Whose messages').")
    have = dict(counts)
    missing = [s for s in chosen if s not in have]
    if missing:
        raise InputError(f"No messages from {', '.join(map(repr, missing))} in the chat log. Its speakers are: "
                         f"{_listing(counts)}. Pick one of those names, spelled as listed.")
    keep = set(chosen)
    return [p for p in posts if p.speaker is None or p.speaker in keep]
