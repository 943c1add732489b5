"""CSV / TSV with a header row: the text column is named, or detected from common names."""

from __future__ import annotations

import csv
import io
import sys

from studio.errors import InputError
from studio.ingest.base import Post

TEXT_COLUMNS = ("text", "tweet", "full_text", "content", "post", "message", "body", "status")
DATE_COLUMNS = ("created_at", "date", "timestamp", "time")
LANG_COLUMNS = ("lang", "language")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _pick(header: list[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    return next((lowered[c] for c in candidates if c in lowered), None)


def table_columns(text: str) -> list[str]:
    """The header of a CSV/TSV, for a column picker."""
    return next(csv.reader(io.StringIO(text), dialect=_dialect(text)), [])


def _dialect(text: str):
    sample = text[:20_000]
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",\t;|")
    except csv.Error:
        return csv.excel_tab if sample.count("\t") > sample.count(",") else csv.excel


def parse_table(text: str, source: str, text_column: str | None = None) -> list[Post]:
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=_dialect(text))
    header = reader.fieldnames or []
    if not header:
        raise InputError(f"{source}: the CSV is empty. It needs a header row and one post per row.")
    if text_column:
        if text_column not in header:
            raise InputError(f"{source}: no column named {text_column!r}. Columns: {', '.join(header)}.")
        column = text_column
    else:
        column = _pick(header, TEXT_COLUMNS) or (header[0] if len(header) == 1 else None)
    if column is None:
        raise InputError(
            f"{source}: no text column found among {', '.join(header[:20])}. "
            f"Name the column holding the posts (e.g. --text-column NAME), or call it one of: {', '.join(TEXT_COLUMNS)}."
        )
    date_col, lang_col = _pick(header, DATE_COLUMNS), _pick(header, LANG_COLUMNS)
    try:
        return [
            Post(text=row.get(column) or "", source=source,
                 created_at=row.get(date_col) if date_col else None,
                 lang=row.get(lang_col) if lang_col else None)
            for row in reader
        ]
    except csv.Error as exc:
        raise InputError(f"{source}: malformed CSV ({exc}). Check quoting, or export it again.") from exc
