"""Chat logs saved as text: LINE's talk history and WhatsApp's "Export chat".

LINE: a `[LINE] Chat history with X` / `[LINE] Xとのトーク履歴` header, date lines (`2024/01/01(月)`,
`Mon, 01/01/2024`), then `HH:MM<TAB>Name<TAB>Text` (times may read `午後3:04` or `3:04 PM`); a message
with line breaks is wrapped in double quotes; lines with no name are system lines (joins, calls).
WhatsApp: one line per message, `12/31/23, 9:41 PM - Name: text` (Android) or `[31.12.23, 21:41:05] Name: text`
(iPhone), the date order taken from the file (a day over 12 decides; dots mean day first); lines that
do not start with a date continue the message before; lines without `Name:` are system messages.
Stickers, photos, `<Media omitted>` and deleted messages are not words and are dropped (`chats.is_media`).
"""

from __future__ import annotations

import re

from studio.errors import InputError
from studio.ingest.base import Post
from studio.ingest.chats import is_media, with_context

LINE_HEADER = re.compile(r"^\ufeff?\[LINE\]\s*(?:Chat history with .+|.+とのトーク履歴|.+)$")
LINE_DATE = re.compile(r"^(?:(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:\s*\(.{1,4}\)|\s+\S+)?|[A-Z][a-z]{2}, (\d{2})/(\d{2})/(\d{4}))\s*$")
LINE_MESSAGE = re.compile(r"^(午前|午後)?(\d{1,2}):(\d{2})(?:\s?([AaPp][Mm]))?\t(.*)$")

WA_LINE = re.compile(
    r"^[\u200e\u200f]?\[?(\d{1,4})([./-])(\d{1,2})[./-](\d{2,4}),? (\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
    r"(?:[\s\u202f]?([AaPp])\.?\s?[Mm]\.?)?\]?(?: -|:)? (.*)$")
WA_EDITED = re.compile(r"\s*<This message was edited>\s*$")


def is_line(text: str) -> bool:
    """A LINE header, or (header cut off) a date line followed by `HH:MM<TAB>Name<TAB>Text` lines."""
    lines = [line.strip("\r") for line in text.lstrip("\ufeff").lstrip().splitlines()[:30]]
    if lines and LINE_HEADER.match(lines[0].strip()):
        return True
    dated = next((i for i, line in enumerate(lines) if LINE_DATE.match(line.strip())), None)
    return dated is not None and sum(bool(LINE_MESSAGE.match(line)) and line.count("\t") >= 2 for line in lines[dated:]) >= 2


def is_whatsapp(text: str) -> bool:
    lines = [line for line in text.lstrip("\ufeff").splitlines()[:20] if line.strip()]
    hits = [WA_LINE.match(line) for line in lines[:5]]
    return bool(lines) and bool(hits[0]) and sum(1 for m in hits if m and ": " in m.group(9)) >= 1


def _hour(hour: int, ampm: str | None, ja: str | None = None) -> int:
    if (ampm or "").lower().startswith("p") or ja == "午後":
        return hour % 12 + 12
    if (ampm or "").lower().startswith("a") or ja == "午前":
        return hour % 12
    return hour


def parse_line(text: str, source_name: str) -> list[Post]:
    """Messages of a LINE talk history, in order, each with its speaker and context."""
    posts: list[Post] = []
    date, open_quote = None, False
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        line = raw.rstrip("\r")
        if open_quote:  # inside a quoted message with line breaks
            posts[-1].text += "\n" + line
            open_quote = not line.endswith('"')
            continue
        if number <= 3 and (LINE_HEADER.match(line) or line.startswith(("Saved on:", "保存日時"))):
            continue
        date_match, message = LINE_DATE.match(line.strip()), LINE_MESSAGE.match(line)
        if date_match and not message:
            y, m, d, mm, dd, yy = date_match.groups()
            date = f"{int(y or yy):04d}-{int(m or mm):02d}-{int(d or dd):02d}"
            continue
        if not message:
            if posts and line.strip():  # a stray continuation: keep it with the message before
                posts[-1].text += "\n" + line
            continue
        ja, hour, minute, ampm, rest = message.groups()
        if "\t" not in rest:
            continue  # a system line: someone joined, left, or a call
        name, body = rest.split("\t", 1)
        stamp = f"{date}T{_hour(int(hour), ampm, ja):02d}:{minute}:00" if date else None
        posts.append(Post(text=body, source="line", created_at=stamp, speaker=name.strip() or None))
        open_quote = body.startswith('"') and not (len(body) > 1 and body.endswith('"'))
    if open_quote:
        raise InputError(f"{source_name}: the LINE history ends inside a quoted message (the file is cut short). "
                         "Save the talk history again from LINE and upload the whole file.")
    for post in posts:
        if "\n" in post.text and post.text.startswith('"') and post.text.endswith('"'):
            post.text = post.text[1:-1].replace('""', '"')
    return _finish(posts, source_name, "LINE talk history")


def _finish(posts: list[Post], source_name: str, what: str) -> list[Post]:
    kept = [p for p in posts if p.speaker and p.text.strip() and not is_media(p.text)]
    if not kept:
        raise InputError(f"{source_name}: a {what} with no text messages (only stickers, photos or system lines). "
                         "Export a chat with written messages.")
    for i, post in enumerate(kept):
        post.id = post.id or f"{post.source}-{i}"
    return with_context(kept)


def _day_first(matches: list[re.Match]) -> bool:
    if any(int(m.group(1)) > 12 for m in matches if len(m.group(1)) <= 2):
        return True
    if any(int(m.group(3)) > 12 for m in matches):
        return False
    if any(m.group(2) == "." for m in matches):
        return True
    return not any(m.group(8) for m in matches)  # 12-hour clocks come with US month-first dates


def _wa_date(m: re.Match, day_first: bool) -> str | None:
    a, _, b, c, hour, minute, second, ampm, _ = m.groups()
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    else:
        day, month = (int(a), int(b)) if day_first else (int(b), int(a))
        year = int(c) + 2000 if len(c) == 2 else int(c)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}T{_hour(int(hour), ampm):02d}:{minute}:{second or '00'}"


def parse_whatsapp(text: str, source_name: str) -> list[Post]:
    """Messages of a WhatsApp chat export, in order, each with its speaker and context."""
    entries: list[tuple[re.Match, list[str]]] = []
    for line in text.lstrip("\ufeff").splitlines():
        m = WA_LINE.match(line)
        if m:
            entries.append((m, [m.group(9)]))
        elif entries:
            entries[-1][1].append(line)
    day_first = _day_first([m for m, _ in entries])
    posts = []
    for m, lines in entries:
        first = lines[0].lstrip("\u200e")
        if ": " not in first:
            continue  # a system message: encryption notice, someone added or left
        name, body = first.split(": ", 1)
        body = WA_EDITED.sub("", "\n".join([body, *lines[1:]]).rstrip())
        if body.startswith("\u200e"):
            continue  # WhatsApp marks media and system notes with a left-to-right mark
        posts.append(Post(text=body, source="whatsapp", created_at=_wa_date(m, day_first), speaker=name.strip("\u200e ~\u202f")))
    return _finish(posts, source_name, "WhatsApp chat")
