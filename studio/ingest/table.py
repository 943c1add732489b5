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
    return next(csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text)), [])


def _dialect(text: str):
    """csv.Sniffer's dialect on a sample of whole lines (its delimiter and quote), reading doubled quotes as
    Excel does; the excel dialect (excel-tab for a tab-separated header) when sniffing fails or picks a
    delimiter the header does not hold. Sniffing the header line alone reads no quoting at all."""
    sample = text[:64_000]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    header = sample.lstrip("\ufeff").split("\n", 1)[0]
    fallback = csv.excel_tab if header.count("\t") > header.count(",") else csv.excel
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        return fallback
    if sniffed.delimiter not in header or sniffed.quotechar not in "\"'":
        return fallback
    return type("Sniffed", (csv.excel,), {"delimiter": sniffed.delimiter, "quotechar": sniffed.quotechar or '"',
                                          "skipinitialspace": sniffed.skipinitialspace})


def read_records(text: str, source: str) -> tuple[list[str], list[dict]]:
    """The records of a CSV exactly as `csv.DictReader` reads them with the sniffed dialect, as a list;
    InputError when the file ends inside a quoted field (cut short) or is malformed."""
    dialect = _dialect(text)
    try:
        try:  # strict first: only strict parsing notices a file cut inside a quoted field
            return _records(text, type("Strict", (dialect,), {"strict": True}))
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise InputError(f"{source}: the CSV ends inside a quoted field: the file is cut short or a quote "
                                 "is not closed. Export it again, or close the quote.") from exc
            return _records(text, dialect)
    except csv.Error as exc:
        raise InputError(f"{source}: malformed CSV ({exc}). Check quoting, or export it again.") from exc


def _records(text: str, dialect) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    return list(reader.fieldnames or []), list(reader)


def parse_table(text: str, source: str, text_column: str | None = None) -> list[Post]:
    """One post per CSV record (quoted commas, doubled quotes and line breaks inside fields included)."""
    header, rows = read_records(text.lstrip("\ufeff"), source)
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
    return [Post(text=row.get(column) or "", source=source,
                 created_at=row.get(date_col) if date_col else None,
                 lang=row.get(lang_col) if lang_col else None)
            for row in rows]
