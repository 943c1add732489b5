"""Which chat export a text file is, by its content, and its parser.

JSON exports are told apart by their first keys (Meta: `participants` and `messages`; Discord: `guild`
and `channel`; Telegram: `from_id`, `date_unixtime` or a chat `type`), text logs by their first lines.
A file named like one export (`result.json`, `message_1.json`, `posts_1.json`) whose content is not that
export is refused, so a wrong file is not read as plain posts.
"""

from __future__ import annotations

import re
from pathlib import Path

from studio.errors import InputError
from studio.ingest import chat_json, chat_text, meta

DISCORD_HEAD = re.compile(r'^\s*\{\s*"guild"\s*:.*"channel"\s*:', re.DOTALL)
TELEGRAM_HEAD = re.compile(r'"(?:from_id|date_unixtime)"\s*:|"type"\s*:\s*"(?:personal_chat|private_group|private_supergroup|'
                           r'public_supergroup|public_channel|private_channel|saved_messages|bot_chat)"')
NAMED = {"result.json": ("telegram", "a Telegram Desktop export"),
         "message_1.json": ("meta", "a Messenger or Instagram conversation"),
         "posts_1.json": ("instagram_posts", "an Instagram posts export")}
PARSERS = {"line": chat_text.parse_line, "whatsapp": chat_text.parse_whatsapp, "telegram": chat_json.parse_telegram,
           "discord": chat_json.parse_discord, "discord_csv": chat_json.parse_discord_csv,
           "meta": meta.parse_meta_messages, "instagram_posts": meta.parse_instagram_posts}


def sniff(name: str, text: str) -> str | None:
    """The chat export `text` is ("line", "whatsapp", "telegram", "discord", "discord_csv", "meta",
    "instagram_posts"), or None for anything else."""
    head = text[:20000].lstrip("\ufeff")
    kind = None
    if head.lstrip()[:1] == "{":
        if meta.is_meta_messages(head):
            kind = "meta"
        elif DISCORD_HEAD.match(head):
            kind = "discord"
        elif '"messages"' in head and TELEGRAM_HEAD.search(head):
            kind = "telegram"
        elif meta.is_instagram_posts(head):
            kind = "instagram_posts"
    elif meta.is_instagram_posts(head):
        kind = "instagram_posts"
    elif chat_json.is_discord_csv(head):
        kind = "discord_csv"
    elif chat_text.is_line(head):
        kind = "line"
    elif chat_text.is_whatsapp(head):
        kind = "whatsapp"
    expected = NAMED.get(Path(name).name.lower())
    if expected and not head.strip():
        raise InputError(f"{Path(name).name} is empty: {expected[1]} is never empty. Export it again.")
    if expected and kind is None and head.lstrip()[:1] in "{[":
        kind = expected[0]  # e.g. a whole-account result.json whose first messages are far in: its parser checks it
    if expected and kind != expected[0]:
        raise InputError(f"{Path(name).name} is named like {expected[1]} but its content is not one. Upload the file "
                         "the export wrote, unchanged; or rename it if it holds your own posts (.jsonl with a 'text' field).")
    return kind


def parse(kind: str, text: str, name: str):
    return PARSERS[kind](text, name)
