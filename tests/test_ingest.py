import json

import pytest

from studio.errors import InputError
from studio.ingest import load_file, load_posts, parse_pasted
from tests.conftest import KOUME_CSV


def test_text_one_post_per_line(posts_file):
    posts = load_file(posts_file)
    assert [p.text for p in posts][:2] == ["Coffee first, then code. Always in that order.", "Shipped a tiny fix today and it felt great."]
    assert all(p.upload == "posts.txt" and p.source == "text" for p in posts)


def test_csv_detects_text_column(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('id,tweet,likes\n1,"hello, world",3\n2,second post,0\n', encoding="utf-8")
    assert [p.text for p in load_file(path)] == ["hello, world", "second post"]


def test_csv_named_column_and_tsv(tmp_path):
    path = tmp_path / "export.tsv"
    path.write_text("id\tbody_text\n1\tfirst\n2\tsecond\n", encoding="utf-8")
    with pytest.raises(InputError, match="no text column found among id, body_text"):
        load_file(path)
    assert [p.text for p in load_file(path, text_column="body_text")] == ["first", "second"]
    with pytest.raises(InputError, match="no column named 'nope'"):
        load_file(path, text_column="nope")


def test_real_twint_csv_fixture():
    posts = load_file(KOUME_CSV)
    assert len(posts) == 4406
    assert posts[0].lang == "ja" and posts[0].created_at.startswith("2021-09-25")
    assert "チクショー" in posts[0].text


def test_encodings_utf8_bom_utf16_cp932(tmp_path):
    text = "text\nコウメ太夫です\n"
    for encoding in ("utf-8-sig", "utf-16", "cp932"):
        path = tmp_path / f"posts-{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        assert [p.text for p in load_file(path)] == ["コウメ太夫です"], encoding


def test_jsonl_and_json(tmp_path):
    jsonl = tmp_path / "posts.jsonl"
    jsonl.write_text(json.dumps({"text": "one"}) + "\n\n" + json.dumps("two") + "\n", encoding="utf-8")
    assert [p.text for p in load_file(jsonl)] == ["one", "two"]
    array = tmp_path / "posts.json"
    array.write_text(json.dumps([{"content": "a"}, {"full_text": "b"}]), encoding="utf-8")
    assert [p.text for p in load_file(array)] == ["a", "b"]


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty.txt", b"", "no usable text"),
        ("blank.txt", b"\n  \n\t\n", "no usable text"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
        ("latin.txt", bytes(range(0x80, 0xFF)), "not UTF-8, UTF-16 or Shift_JIS"),
        ("bad.jsonl", b'{"text": "ok"}\n{not json\n', "line 2 is not valid JSON"),
        ("nofield.jsonl", b'{"likes": 3}\n', "has no text field"),
        ("numbers.json", b"[1, 2]", "expected an object"),
        ("header-only.csv", b"id,text\n", "no usable text"),
        ("empty.csv", b"", "the CSV is empty"),
        ("archive.zip", b"PK\x03\x04", "damaged or truncated"),
        ("cut.csv", b'id,text\n1,"fine"\n2,"this one never clo\n', "ends inside a quoted field"),
        ("comments.csv", b"id,permalink,body,parent\n", "no usable text"),
        ("posts.csv", b'id,permalink,date,title,body\n1,x,2023-01-01,"cut here\n', "ends inside a quoted field"),
        ("comments.csv", b"id,permalink,body,parent\n1,x,caf\xe9 \xff\xff,\n", "not UTF-8, UTF-16 or Shift_JIS"),
        ("empty.vtt", b"", "no subtitle cues"),
        ("header-only.vtt", b"WEBVTT\n\n", "no subtitle cues"),
        ("notes.srt", b"just some words\nwith no timing\n", "no subtitle cues"),
    ],
)
def test_bad_inputs_say_what_is_wrong(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        load_file(path)


def test_missing_and_no_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_posts([tmp_path / "nope.txt"])
    with pytest.raises(InputError, match="No input files"):
        load_posts([])


def test_huge_file_refused_before_reading(tmp_path, monkeypatch):
    from studio import ingest

    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 10)
    path = tmp_path / "big.txt"
    path.write_text("x" * 100)
    with pytest.raises(InputError, match="the limit is"):
        load_file(path)


def test_pasted():
    assert [p.text for p in parse_pasted("a\n\nb\n")] == ["a", "b"]
    with pytest.raises(InputError, match="empty"):
        parse_pasted("   ")
