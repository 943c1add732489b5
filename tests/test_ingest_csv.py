"""CSV parsed exactly as Python's csv module reads it: one post per record, whatever the quoting."""

from __future__ import annotations

import csv
import io

import pytest

from studio.ingest import load_file
from tests.conftest import KOUME_CSV


def _records(data: bytes, encoding: str = "utf-8-sig", **dialect) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode(encoding), newline=""), **dialect))


def test_koume_fixture_one_post_per_record():
    rows = _records(KOUME_CSV.read_bytes())
    posts = load_file(KOUME_CSV)
    assert len(posts) == len(rows) == 4406
    assert [p.text for p in posts] == [r["tweet"] for r in rows]


QUOTED = (
    'id,body,created_at\r\n'
    '1,"Well, that went ""fine"", I guess",2020-01-01\r\n'
    '2,"first line\r\nsecond line, with a comma",2020-01-02\r\n'
    '3,plain,2020-01-03\r\n'
    '4,"""quoted"" at the start; and a semicolon",2020-01-04\r\n'
)


@pytest.mark.parametrize("name,data,encoding,dialect", [
    ("quoted.csv", QUOTED.encode(), "utf-8", {}),
    ("lf.csv", QUOTED.replace("\r\n", "\n").encode(), "utf-8", {}),
    ("bom.csv", b"\xef\xbb\xbf" + QUOTED.encode(), "utf-8-sig", {}),
    ("semicolon.csv", QUOTED.replace(",", ";").replace(";\"\"fine", ",\"\"fine").encode(), "utf-8", {"delimiter": ";"}),
    ("cp932.csv", 'id,text\n1,"こんにちは、世界"\n2,"改行\nあり"\n3,チクショー！！\n'.encode("cp932"), "cp932", {}),
    ("tabs.tsv", b'id\ttext\n1\t"a, b"\n2\t"tab\tinside"\n', "utf-8", {"dialect": csv.excel_tab}),
])
def test_quoted_csv_count_equals_records(tmp_path, name, data, encoding, dialect):
    path = tmp_path / name
    path.write_bytes(data)
    rows = _records(data, encoding, **dialect)
    posts = load_file(path)
    assert len(posts) == len(rows)
    column = "body" if "body" in rows[0] else "text"
    assert [p.text for p in posts] == [r[column] for r in rows]


def test_doubled_quotes_and_line_breaks_kept():
    from studio.ingest.table import parse_table

    posts = parse_table(QUOTED, "q.csv")
    assert posts[0].text == 'Well, that went "fine", I guess'
    assert posts[1].text == "first line\r\nsecond line, with a comma"
    assert posts[1].created_at == "2020-01-02"


def test_doubled_quote_only_past_the_sniffed_sample():
    from studio.ingest.table import parse_table

    text = "id,text\n" + "".join(f"{i},row {i}\n" for i in range(5000)) + '5000,"a ""late"" quote, here"\n'
    posts = parse_table(text, "late.csv")
    assert len(posts) == 5001 and posts[-1].text == 'a "late" quote, here'
