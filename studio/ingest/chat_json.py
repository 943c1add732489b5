"""Chat exports in JSON and CSV: Telegram Desktop's `result.json`, DiscordChatExporter's JSON and CSV.

Telegram: one chat (`{"name", "type", "messages": [...]}`) or the whole account (`{"chats": {"list": [...]}}`);
`text` is a string or a list of strings and entities (`{"type": "link", "text": ...}`); service messages
(joins, pins, calls) and messages with no text (photos, stickers) are dropped; forwarded messages are
someone else's words and are marked like retweets (dropped by cleaning unless `--no-drop-retweets`).
Discord: `messages[]` with `author.name`, `content`, `timestamp`, `reference.messageId`; the CSV has the
columns `AuthorID,Author,Date,Content,Attachments,Reactions`. A reply's context is the message it
references when that message is in the export, else the rule in `studio.ingest.chats`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

from studio.errors import InputError
from studio.ingest.base import Post
from studio.ingest.chats import with_context

DISCORD_CSV_HEADER = re.compile(r'^\ufeff?"?AuthorID"?,"?Author"?,"?Date"?,"?Content"?')
DISCORD_KINDS = {"Default", "Reply", "0", "19"}


def load_json(text: str, source_name: str, what: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(text.rstrip()) - 1
        why = "it ends too early (cut short)" if cut else f"{exc.msg} at line {exc.lineno}"
        raise InputError(f"{source_name}: not valid JSON ({why}). Export the {what} again and upload the file unchanged.") from exc


def not_the_export(source_name: str, what: str, missing: str) -> InputError:
    return InputError(f"{source_name}: JSON, but not {what} ({missing}). Upload the file the export wrote, unchanged, "
                      "or use a .jsonl file with a 'text' field per post.")


def telegram_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in value
                       if isinstance(part, (str, dict)))
    return ""


def _telegram_chats(data) -> list[dict]:
    if isinstance(data, dict) and isinstance(data.get("chats"), dict):
        return [c for c in data["chats"].get("list", []) if isinstance(c, dict)]
    return [data] if isinstance(data, dict) else []


def parse_telegram(text: str, source_name: str) -> list[Post]:
    """Messages of a Telegram Desktop export (one chat or all chats), each conversation with its context."""
    chats = [c for c in _telegram_chats(load_json(text, source_name, "Telegram chat")) if isinstance(c.get("messages"), list)]
    if not chats:
        raise not_the_export(source_name, "a Telegram Desktop export", "no 'messages' list")
    posts: list[Post] = []
    for chat in chats:
        messages = [m for m in chat["messages"] if isinstance(m, dict)]
        if messages and not any("from" in m or "actor" in m for m in messages):
            raise not_the_export(source_name, "a Telegram Desktop export", "its messages have no 'from'")
        by_id = {str(m.get("id")): telegram_text(m.get("text")) for m in messages}
        chat_posts, answered = [], {}
        for m in messages:
            body = telegram_text(m.get("text"))
            if m.get("type", "message") != "message" or not body.strip() or not m.get("from"):
                continue
            post = Post(text=body, source="telegram", created_at=m.get("date"), id=f"telegram-{chat.get('id')}-{m.get('id')}",
                        speaker=str(m["from"]), is_retweet=bool(m.get("forwarded_from")))
            replied = by_id.get(str(m.get("reply_to_message_id")), "") if m.get("reply_to_message_id") is not None else ""
            if replied.strip():
                post.is_reply, answered[post.id] = True, replied
            chat_posts.append(post)
        posts.extend(with_context(chat_posts, answered))
    return posts


def parse_discord(text: str, source_name: str) -> list[Post]:
    """Messages of a DiscordChatExporter JSON export (one channel)."""
    data = load_json(text, source_name, "Discord channel")
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise not_the_export(source_name, "a DiscordChatExporter export", "no 'messages' list")
    messages = [m for m in data["messages"] if isinstance(m, dict)]
    if messages and not any(isinstance(m.get("author"), dict) for m in messages):
        raise not_the_export(source_name, "a DiscordChatExporter export", "its messages have no 'author'")
    by_id = {str(m.get("id")): str(m.get("content") or "") for m in messages}
    posts, answered = [], {}
    for m in messages:
        author, body = m.get("author") or {}, str(m.get("content") or "")
        if str(m.get("type", "Default")) not in DISCORD_KINDS or not body.strip() or not author.get("name"):
            continue
        post = Post(text=body, source="discord", created_at=m.get("timestamp"), id=f"discord-{m.get('id')}", speaker=str(author["name"]))
        ref = str((m.get("reference") or {}).get("messageId") or "")
        if by_id.get(ref, "").strip():
            post.is_reply, answered[post.id] = True, by_id[ref]
        posts.append(post)
    return with_context(posts, answered)


def is_discord_csv(text: str) -> bool:
    return bool(DISCORD_CSV_HEADER.match(text[:200]))


def _discord_date(value: str) -> str | None:
    value = value.strip()
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        pass
    for pattern in ("%d-%b-%y %I:%M %p", "%m/%d/%Y %I:%M %p", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(value, pattern).isoformat()
        except ValueError:
            continue
    return None


def parse_discord_csv(text: str, source_name: str) -> list[Post]:
    """Messages of a DiscordChatExporter CSV export (one channel)."""
    try:
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    except csv.Error as exc:
        raise InputError(f"{source_name}: the Discord CSV does not parse ({exc}). Export the channel again.") from exc
    posts = [Post(text=row.get("Content") or "", source="discord", created_at=_discord_date(row.get("Date") or ""),
                  id=f"discord-{i}", speaker=(row.get("Author") or "").strip() or None)
             for i, row in enumerate(rows) if (row.get("Content") or "").strip() and row.get("Author")]
    return with_context(posts)
