"""Spoken words: subtitle files (.vtt, as YouTube and yt-dlp write them, and .srt) re-joined into posts.

What is dropped: the WEBVTT header and its NOTE / STYLE / REGION blocks, cue ids, timing lines and
their settings (`align:start position:0%`), inline tags (`<c>`, `<00:00:01.000>`, `<v Speaker>`,
`<i>`, `<font>`), SRT position codes (`{\\an8}`), sound labels in brackets (`[Music]`, `[音楽]`), and
the rolling lines of YouTube's automatic captions (each cue repeats the line before it: a line equal
to one of the two lines last kept is not kept again).

How posts are made (the rule): the kept lines are joined in order (with no space where either side is a
CJK character, else one space) into runs; a pause of PAUSE_S seconds or more between one cue's end and
the next cue's start ends a run. A run is split into sentences after sentence-ending punctuation
(。！？!?… and . ! ? before a space), and sentences are packed into posts of at most MAX_CHARS
characters; a longer sentence is cut at a space (or at MAX_CHARS). Cue times are positions in a
video, not dates: `created_at` stays None.
"""

from __future__ import annotations

import html
import re

from studio.errors import InputError
from studio.ingest.base import Post

SOURCE = "subtitles"
PAUSE_S = 1.5
MAX_CHARS = 140
_TIME = r"(?:(\d{1,3}):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_SRT_HEAD = re.compile(rf"\A\s*\d+\s*\n{_TIME}\s*-->")
_TAG = re.compile(r"<[^>\n]*>|\{\\[^}\n]*\}")
_LABEL = re.compile(r"\[[^\]\n]*\]")
_SENTENCE = re.compile(r"(?<=[。！？!?…])|(?<=[.!?])(?=\s)")
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
_META = ("NOTE", "STYLE", "REGION", "WEBVTT", "Kind:", "Language:")


def is_subtitles(text: str) -> bool:
    """A WebVTT file (`WEBVTT` first) or an SRT (`1` then a `00:00:01,000 --> ...` line)."""
    head = text.lstrip("\ufeff")[:500].replace("\r\n", "\n")
    return head.startswith("WEBVTT") or bool(_SRT_HEAD.match(head))


def _seconds(groups) -> float:
    hours, minutes, seconds, millis = groups
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1000


def _clean(line: str) -> str:
    return " ".join(html.unescape(_LABEL.sub("", _TAG.sub("", line))).split())


def cues(text: str) -> list[tuple[float, float, list[str]]]:
    """(start, end, text lines) per cue, tags removed; blocks without a timing line (header, NOTE...) skipped."""
    found: list[tuple[float, float, list[str]]] = []
    for block in re.split(r"\n[ \t]*\n(?=\S)|\n\n", text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.split("\n")
        at = next((i for i, line in enumerate(lines) if _TIMING.match(line)), None)
        if at is None:
            if found and block.strip() and not block.lstrip().startswith(_META):
                found[-1][2].extend(_clean(line) for line in lines)  # a blank line inside a cue's text
            continue
        match = _TIMING.match(lines[at])
        found.append((_seconds(match.groups()[:4]), _seconds(match.groups()[4:]), [_clean(l) for l in lines[at + 1:]]))
    return found


def _join(left: str, right: str) -> str:
    if not left:
        return right
    glue = "" if _CJK.match(left[-1]) or _CJK.match(right[0]) else " "
    return left + glue + right


def _runs(found) -> list[str]:
    """The kept lines joined into runs, a pause ending one; rolling repeats left out."""
    runs, kept, last_end = [""], [], None
    for start, end, lines in found:
        new = [line for line in lines if line and line not in kept[-2:]]
        if not any(lines):
            continue
        if new and last_end is not None and start - last_end >= PAUSE_S and runs[-1]:
            runs.append("")
        for line in new:
            runs[-1] = _join(runs[-1], line)
            kept.append(line)
        last_end = end
    return [run for run in runs if run]


def _pack(run: str) -> list[str]:
    posts = [""]
    for sentence in (s.strip() for s in _SENTENCE.split(run)):
        while len(sentence) > MAX_CHARS:
            cut = sentence.rfind(" ", 0, MAX_CHARS + 1)
            cut = cut if cut > MAX_CHARS // 2 else MAX_CHARS
            posts.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if not sentence:
            continue
        if posts[-1] and len(_join(posts[-1], sentence)) > MAX_CHARS:
            posts.append("")
        posts[-1] = _join(posts[-1], sentence)
    return [post for post in posts if post]


def parse_subtitles(text: str, name: str) -> list[Post]:
    """Posts from the text of a .vtt or .srt file (see the module's docstring for the rule)."""
    found = cues(text)
    if not found:
        raise InputError(f"{name}: no subtitle cues found (no '00:00:01.000 --> 00:00:02.000' timing lines): is it a "
                         "subtitle file? Upload a .vtt or .srt as downloaded (e.g. yt-dlp --write-auto-sub), "
                         "or its text as .txt.")
    lang = re.search(r"^Language:\s*([\w-]+)", text[:500], re.MULTILINE)
    return [Post(text=post, source=SOURCE, lang=lang.group(1) if lang else None)
            for run in _runs(found) for post in _pack(run)]
