"""Subtitles (.vtt, .srt): timing, ids, tags and YouTube's rolling lines removed, sentences re-joined into posts."""

from __future__ import annotations

from studio.ingest import load_file
from studio.ingest.subtitles import MAX_CHARS, cues
from tests.conftest import FIXTURES

YOUTUBE = FIXTURES / "youtube-auto-captions-ja.vtt"


def test_youtube_auto_captions_fixture():
    text = YOUTUBE.read_text(encoding="utf-8")
    assert len(cues(text)) == 857
    posts = load_file(YOUTUBE)
    joined = "".join(p.text for p in posts)
    assert all(p.source == "subtitles" and p.lang == "ja" and p.created_at is None for p in posts)
    assert all(0 < len(p.text) <= MAX_CHARS for p in posts)
    assert "-->" not in joined and "<" not in joined and "align:" not in joined and "WEBVTT" not in joined
    # the rolling lines: each said line is kept once, not two or three times
    assert joined.count("こっちはも黙ってねえよ。そ、あなたは") == 1 and joined.count("10cmの爆弾で来るならよ。") == 1
    assert posts[0].text.startswith("やっぱね、葛西さんがずっとミットやってるね。そうそう。")


VTT = """WEBVTT
Kind: captions
Language: en

NOTE written by hand

STYLE
::cue { color: yellow }

intro
00:00:01.000 --> 00:00:02.500 align:start position:0%
<v Ann>So <00:00:01.500><c>this is</c> the plan.</v>

00:00:02.500 --> 00:00:04.000
<i>We start</i> &amp; then

00:00:04.000 --> 00:00:05.000
we stop.

00:00:09.000 --> 00:00:10.000
[Music]
After a pause, a new post!
"""

SRT = """1
00:00:01,000 --> 00:00:02,000
{\\an8}First line of the talk

2
00:00:02,000 --> 00:00:03,000
<b>goes on</b> here.

3
00:00:06,000 --> 00:00:07,000
Second post.
"""


def test_vtt_tags_ids_notes_and_pauses(tmp_path):
    path = tmp_path / "talk.vtt"
    path.write_text(VTT)
    assert [p.text for p in load_file(path)] == ["So this is the plan. We start & then we stop.", "After a pause, a new post!"]


def test_srt_sniffed_by_content_whatever_the_name(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_bytes(SRT.replace("\n", "\r\n").encode("cp932"))
    posts = load_file(path)
    assert [p.text for p in posts] == ["First line of the talk goes on here.", "Second post."]
    assert posts[0].source == "subtitles" and posts[0].lang is None


def test_long_speech_capped():
    from studio.ingest.subtitles import parse_subtitles

    words = " ".join(f"word{i}" for i in range(200))
    posts = parse_subtitles(f"WEBVTT\n\n00:00:01.000 --> 00:00:09.000\n{words}\n", "long.vtt")
    assert len(posts) > 1 and all(len(p.text) <= MAX_CHARS for p in posts)
    assert " ".join(p.text for p in posts) == words


def test_truncated_vtt_keeps_whole_cues(tmp_path):
    path = tmp_path / "cut.vtt"
    path.write_text(VTT[: VTT.index("[Music]")] + "00:00:1")
    assert load_file(path)[0].text == "So this is the plan. We start & then we stop."
