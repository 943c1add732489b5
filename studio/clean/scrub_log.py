"""What the cleaning scrubbed, kept as salted hashes so that the publish gate can recognise it without storing it.

Every e-mail address, phone number, street address and listed name that the privacy step replaced is kept as
the first 16 hex digits of sha256(salt, kind, the value normalised): phones as their digits, the rest case-folded
with spaces folded. The salt is random per cleaning run and kept beside the hashes in the persona's
`persona.json` (`data.scrubbed`), which stays on this machine: `hub_manifest` leaves it out of what goes to the Hub.
A salted hash of a phone number can be brute-forced by someone who has the file (ten digits are few): it keeps
the values out of sight, not out of reach, so the file is never published.

`private_hits(text, ...)` is the gate's check of one generated reply: e-mail addresses and phone numbers of any
kind (the reply should contain none), numbers shaped like phones whose digits occur in the person's posts, the
user's listed names, and any string whose hash is in the log.

    scrubbed = {"salt": "9f...", "hashes": {"phone": ["a1b2...", ...], "email": [...], "name": [...]}}
"""

from __future__ import annotations

import hashlib
import re
import secrets

from studio.clean.privacy import EMAIL, PHONE_CANDIDATE, names_pattern, phone_spans

KINDS = ("email", "phone", "address", "name")
WORDS = re.compile(r"\w+(?:[.'’-]\w+)*")
MAX_WORDS = 6  # the longest run of words a scrubbed name or address is looked for as


def normalise(kind: str, value: str) -> str:
    if kind == "phone":
        return re.sub(r"\D", "", value)
    return re.sub(r"\s+", " ", value).strip().casefold()


def digest(salt: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{salt}\x00{kind}\x00{normalise(kind, value)}".encode("utf-8")).hexdigest()[:16]


def new_log() -> dict:
    return {"salt": secrets.token_hex(16), "hashes": {}}


def record(log: dict, kind: str, value: str) -> None:
    """Add one scrubbed value to the log (a dict, as CleanReport.scrubbed holds it); the salt is made on first use."""
    if not value or not normalise(kind, value):
        return
    if not log.get("salt"):
        log.update(new_log())
    hashes = log.setdefault("hashes", {}).setdefault(kind, [])
    value_hash = digest(log["salt"], kind, value)
    if value_hash not in hashes:
        hashes.append(value_hash)


def count(log: dict | None) -> dict[str, int]:
    return {kind: len(values) for kind, values in ((log or {}).get("hashes") or {}).items() if values}


def _candidates(text: str, lang: str | None) -> list[tuple[str, str]]:
    """(kind, value) of everything in text that could be a scrubbed string."""
    found = [("email", m.group(0)) for m in EMAIL.finditer(text)]
    found += [("phone", text[s:e]) for s, e in phone_spans(text, lang)]
    found += [("phone", digits) for digits in _digit_runs(text)]
    words = WORDS.findall(text)
    for size in range(1, MAX_WORDS + 1):
        for start in range(len(words) - size + 1):
            phrase = " ".join(words[start:start + size])
            found += [("name", phrase), ("address", phrase)]
    return found


NUMBER_RUN = re.compile(r"\d+(?:[\s().+\-/]{1,3}\d+)*")  # digit groups joined by what phone numbers are written with


def _digit_runs(text: str) -> set[str]:
    """The digits of every run of digit groups (however punctuated) and of each of its sub-runs of 7+ digits: a
    scrubbed phone is recognised written another way ("555.014.2367", "(555) 014 2367") or inside a longer number."""
    runs = set()
    for match in NUMBER_RUN.finditer(text):
        groups = re.findall(r"\d+", match.group(0))
        for i in range(len(groups)):
            for j in range(i + 1, len(groups) + 1):
                digits = "".join(groups[i:j])
                if len(digits) >= 7:
                    runs.add(digits)
    return runs


def known_numbers(posts: list[str]) -> set[str]:
    """The digits of every phone-shaped number in the person's posts (what the cleaning kept: it found no phone there)."""
    return {normalise("phone", m.group(0)) for post in posts for m in PHONE_CANDIDATE.finditer(post)}


def private_hits(text: str, log: dict | None = None, names: list[str] | None = None, numbers: set[str] | None = None,
                 lang: str | None = None) -> list[dict]:
    """Private data in one reply: [{"kind", "value", "why"}], each value once."""
    hits: dict[tuple[str, str], str] = {}
    for match in EMAIL.finditer(text):
        hits[("email", match.group(0))] = "an e-mail address"
    for start, end in phone_spans(text, lang):
        hits[("phone", text[start:end])] = "a phone number"
    for match in PHONE_CANDIDATE.finditer(text):
        if normalise("phone", match.group(0)) in (numbers or set()):
            hits.setdefault(("phone", match.group(0)), "a phone-shaped number from their posts")
    pattern = names_pattern(names or [])
    for name in pattern.findall(text) if pattern else []:
        hits[("name", name)] = "a name on the user's list"
    if log and log.get("salt"):
        wanted = {kind: set(values) for kind, values in (log.get("hashes") or {}).items()}
        for kind, value in _candidates(text, lang):
            if digest(log["salt"], kind, value) in wanted.get(kind, ()):
                hits[(kind, value)] = f"a {kind} the cleaning scrubbed from their posts"
    return [{"kind": kind, "value": value, "why": why} for (kind, value), why in hits.items()]
