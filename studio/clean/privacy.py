"""Privacy scrubbing: e-mail addresses, phone numbers and user-listed names become placeholders.

URLs and @handles are scrubbed by their own pipeline steps (`urls`, `mentions`); this module
covers what can hide anywhere in a post. Each function returns (text, count).
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# Needs separators (or a leading +): a bare run of digits is an id or a number, not a phone.
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)\s?|\d{2,4}[\s.-])\d{2,4}[\s.-]\d{3,4}(?!\w)")


def scrub_emails(text: str) -> tuple[str, int]:
    return EMAIL.subn("<email>", text)


def scrub_phones(text: str) -> tuple[str, int]:
    return PHONE.subn("<phone>", text)


def names_pattern(names: list[str]) -> re.Pattern | None:
    """One pattern for the user's list: whole words for Latin names, plain substrings for CJK ones."""
    parts = []
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        escaped = re.escape(name)
        parts.append(rf"(?<!\w){escaped}(?!\w)" if name.isascii() else escaped)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def scrub_names(text: str, pattern: re.Pattern | None) -> tuple[str, int]:
    return pattern.subn("<name>", text) if pattern else (text, 0)
