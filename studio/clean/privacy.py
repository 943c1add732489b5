"""Privacy scrubbing: e-mail addresses, phone numbers and user-listed names become placeholders.

URLs and @handles are scrubbed by their own pipeline steps (`urls`, `mentions`); this module
covers what can hide anywhere in a post. Each scrub function returns (text, matches), the
matches being the original strings that were replaced.

Phone numbers are found by `phonenumbers` (Google's libphonenumber): a number written the way a
country writes it is recognised with that country's rules, so dates, times, versions, prices,
ids, ranges and scores are not phones. Only posts with seven digits close together outside links are
looked at: libphonenumber's matcher costs about 0.1 ms a post and region.
"""

from __future__ import annotations

import re

import phonenumbers
import pyap
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

from studio.clean.text import URL

# ASCII local part and dot-separated domain labels ending in a letters-only TLD; the lookarounds keep
# the neighbouring text (Japanese included: "連絡はjane@example.comまで") out of the address.
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
                   r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])")
# Cheap pre-filter: seven digits with at most three other characters between each (a phone's shape).
PHONE_CANDIDATE = re.compile(r"\d(?:\D{0,3}\d){6}")
DIGIT_GROUPS = re.compile(r"\d+")
# Where a post's language says which country's national formats to expect (numbers written with
# +country code are found whatever the region). English tries the US and then the UK.
REGIONS = {
    "ja": ("JP",), "en": ("US", "GB"), "de": ("DE",), "fr": ("FR",), "es": ("ES",), "it": ("IT",),
    "pt": ("BR",), "nl": ("NL",), "ko": ("KR",), "zh": ("CN",), "ru": ("RU",), "pl": ("PL",),
    "sv": ("SE",), "tr": ("TR",), "id": ("ID",), "th": ("TH",), "vi": ("VN",), "uk": ("UA",),
}
# No usable language tag: the regions of the fixtures' people and the app's main audiences.
DEFAULT_REGIONS = ("US", "GB", "DE", "JP")


def scrub_emails(text: str) -> tuple[str, list[str]]:
    found = EMAIL.findall(text)
    return (EMAIL.sub("<email>", text), found) if found else (text, [])


def regions_for(lang: str | None) -> tuple[str, ...]:
    """Regions whose national formats to look for: 'en-GB' -> GB first, 'ja' -> JP; no usable tag
    (None, 'und', X's 'qme') -> DEFAULT_REGIONS."""
    code, _, country = (lang or "").replace("_", "-").partition("-")
    regions = REGIONS.get(code.lower(), ())
    if len(country) == 2 and country.isalpha() and country.upper() in phonenumbers.SUPPORTED_REGIONS:
        regions = (country.upper(),) + tuple(r for r in regions if r != country.upper())
    return regions or DEFAULT_REGIONS


def _matches(text: str, region: str):
    """Valid numbers for the region (libphonenumber's own checks: dates, times, ids are not), and
    possible ones written as a phone is written, with a leading + or a bracketed area code, so that
    (555) 123-4567 counts: 555 is the area code films use, possible but never assigned."""
    yield from PhoneNumberMatcher(text, region, leniency=Leniency.VALID)
    if "+" not in text and "(" not in text:
        return
    for match in PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE):
        if match.raw_string[0] in "+(" and not phonenumbers.is_valid_number(match.number) and _grouped(match):
            yield match


def _grouped(match) -> bool:
    """Seven digits or more, no extension, grouped exactly as libphonenumber writes this number
    (nationally or internationally): not (65~79), read as 65 extension 79."""
    groups = DIGIT_GROUPS.findall(match.raw_string)
    if match.number.extension or len("".join(groups)) < 7:
        return False
    styles = (PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL)
    return any(DIGIT_GROUPS.findall(phonenumbers.format_number(match.number, style)) == groups for style in styles)


def phone_spans(text: str, lang: str | None = None) -> list[tuple[int, int]]:
    """(start, end) of each phone number in text, in order, not overlapping."""
    if not PHONE_CANDIDATE.search(text) or not PHONE_CANDIDATE.search(URL.sub(" ", text)):
        return []
    spans = [m.span() for m in URL.finditer(text)]  # a number inside a link is part of the link
    urls = len(spans)
    for region in regions_for(lang):
        for match in _matches(text, region):
            if all(match.end <= s or match.start >= e for s, e in spans):
                spans.append((match.start, match.end))
    return sorted(spans[urls:])


def scrub_phones(text: str, lang: str | None = None) -> tuple[str, list[str]]:
    spans = phone_spans(text, lang)
    if not spans:
        return text, []
    found = [text[s:e] for s, e in spans]
    for start, end in reversed(spans):
        text = text[:start] + "<phone>" + text[end:]
    return text, found


def privacy_example(text: str, value: str, kind: str, around: int = 30) -> dict:
    """The words around the first `value` in text, before and after it became <kind>."""
    start = max(text.find(value), 0)
    left, right = text[max(0, start - around):start], text[start + len(value):start + len(value) + around]
    return {"before": left + value + right, "after": f"{left}<{kind}>{right}"}


# pyap2's countries; an address starts with a house number and a street name.
ADDRESS_REGIONS = ("US", "CA", "GB")
ADDRESS_CANDIDATE = re.compile(r"\d[A-Za-z]?\s+[A-Za-z]")


def scrub_addresses(text: str, lang: str | None = None) -> tuple[str, list[str]]:
    """Street addresses of the US, Canada and the UK (pyap2, offline patterns), for English or untagged posts."""
    regions = [r for r in regions_for(lang) if r in ADDRESS_REGIONS]
    if not regions or not ADDRESS_CANDIDATE.search(text):
        return text, []
    found = []
    for region in regions:
        for address in pyap.parse(text, country=region):
            if address.full_address in text and address.full_address not in found:
                found.append(address.full_address)
                text = text.replace(address.full_address, "<address>")
    return text, found


def names_pattern(names: list[str]) -> re.Pattern | None:
    """One pattern for the user's list: whole words for Latin names, plain substrings for CJK ones."""
    parts = []
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        escaped = re.escape(name)
        parts.append(rf"(?<!\w){escaped}(?!\w)" if name.isascii() else escaped)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def scrub_names(text: str, pattern: re.Pattern | None) -> tuple[str, list[str]]:
    if pattern is None:
        return text, []
    found = pattern.findall(text)
    return (pattern.sub("<name>", text), found) if found else (text, [])
