"""The cleaning pipeline: each step on small planted cases, and the real Japanese fixture."""

import csv
import re
import unicodedata

import pytest

from studio.clean import CleanConfig, clean_posts, split_posts
from studio.clean.near_dup import near_duplicates
from studio.clean.text import cap_runs, japanese_marks
from studio.errors import ConfigError, InputError
from studio.ingest import Post, load_file
from tests.conftest import KOUME_CSV


def texts(posts):
    return [p.text for p in posts]


def test_strips_drops_empty_and_exact_duplicates():
    posts = [Post("  hello there  "), Post(""), Post("Hello   there"), Post(" \n "), Post("two\n  lines here "), Post("world wide")]
    kept, report = clean_posts(posts)
    assert texts(kept) == ["hello there", "two\nlines here", "world wide"]
    assert report.loaded == 6 and report.kept == 3
    assert report.removed == {"empty": 2, "duplicates": 1}
    assert report.steps["duplicates"].examples == [{"text": "Hello there"}]
    assert report.summary() == "6 loaded, 3 kept (removed: 2 empty, 1 duplicates)"
    assert report.funnel() == [("loaded", 6), ("empty", 4), ("duplicates", 3), ("kept", 3)]


def test_retweets_replies_links_html_mentions():
    posts = [
        Post("RT @someone: their words, not mine"),
        Post("a boost", is_retweet=True),
        Post("@alice @bob thanks for the tip!", is_reply=True),
        Post("https://t.co/abc123"),
        Post("read this &amp; that &gt; <b>now</b> https://example.com/x please"),
        Post("ping @carol about the release"),
    ]
    kept, report = clean_posts(posts)
    assert texts(kept) == ["thanks for the tip!", "read this & that > now please", "ping @user about the release"]
    assert report.removed == {"retweets": 2, "links_only": 1}
    assert report.steps["replies"].changed == 1 and report.steps["html"].changed == 1
    assert report.privacy["url"] == 2 and report.privacy["handle"] == 1

    dropped, report = clean_posts(posts, CleanConfig(replies="drop", mentions="remove", urls="mask", drop_retweets=False))
    assert "thanks for the tip!" not in texts(dropped) and report.removed["replies"] == 1
    assert "ping about the release" in texts(dropped)
    assert "read this & that > now <url> please" in texts(dropped)
    assert any(x.startswith("RT ") for x in texts(dropped)), "retweets kept when asked"


def test_hashtags_and_language_and_too_short():
    posts = [Post("great day at the sea #summer #fun", lang="en"), Post("ein schöner Tag heute", lang="de"),
             Post("ok", lang="en"), Post("好き", lang="ja"), Post("今日は晴れ", lang="ja")]
    kept, report = clean_posts(posts, CleanConfig(hashtags="remove", languages=["en", "ja"]))
    assert texts(kept) == ["great day at the sea", "今日は晴れ"]
    assert report.removed == {"language": 1, "too_short": 2}


def test_japanese_width_wave_dashes_and_runs():
    assert japanese_marks("すごい!?~") == "すごい！？～"
    assert japanese_marks("plain English!? ~") == "plain English!? ~", "only inside Japanese text"
    assert japanese_marks("でした〜") == "でした～"
    assert cap_runs("今日は〜〜〜〜〜〜") == "今日は〜〜"
    assert cap_runs("wwwww 草草草 !!!! 😂😂😂😂") == "ww 草草 !! 😂😂"
    assert cap_runs("Hmmmm 1000 ok...") == "Hmmmm 1000 ok...", "letters, digits and an ellipsis are kept"
    assert cap_runs("ーーーー", max_run=3) == "ーーー" and cap_runs("～～～", max_run=0) == "～～～"
    kept, _ = clean_posts([Post("ＯＰＱＲＳＴＵ～♪かと思ったら〜〜〜〜、ＢＢ弾でした!!!!１２３")])
    assert texts(kept) == ["OPQRSTU～♪かと思ったら～～、BB弾でした！！123"]


def test_privacy_scrubbing():
    posts = [Post("mail me at jane.doe+x@example.co.jp or call 090-1234-5678 / +1 (555) 123-4567, love Hanako"),
             Post("tweet 1441638296296198149 on 2021-09-25 at 05:38:48 with ハナコ")]
    kept, report = clean_posts(posts, CleanConfig(scrub_names=["Hanako", "ハナコ"]))
    assert texts(kept) == ["mail me at <email> or call <phone> / <phone>, love <name>",
                           "tweet 1441638296296198149 on 2021-09-25 at 05:38:48 with <name>"]
    assert report.privacy["email"] == 1 and report.privacy["phone"] == 2 and report.privacy["name"] == 2


def test_near_duplicates_found_and_distinct_posts_kept():
    base = ["the new release ships on friday with faster builds and fewer bugs",
            "コウメ太夫です。今日もネタを考えていたら、気がついたら朝でした。チクショー！",
            "cooking pasta tonight, the sauce recipe is from my grandmother"]
    planted = [base[0] + "!", base[1].replace("朝", "夜"), base[2].replace("tonight", "tonite")]
    distinct = ["the old release shipped in may", "今日は晴れて気持ちいいので散歩に行きました", "my grandmother grows tomatoes"]
    repeats = near_duplicates(base + distinct + planted, threshold=0.8)
    assert repeats == {6: 0, 7: 1, 8: 2}
    kept, report = clean_posts([Post(x) for x in base + distinct + planted], CleanConfig(near_dup_threshold=0.8))
    assert texts(kept) == base + distinct and report.removed["near_duplicates"] == 3
    assert report.steps["near_duplicates"].examples[0]["like"] == base[0]


def test_split_is_deterministic_and_newest_option():
    posts = [Post(f"post number {i}", created_at=f"2020-01-{i + 1:02d}T00:00:00+00:00") for i in range(20)]
    train, val = split_posts(posts)
    assert len(train) == 18 and len(val) == 2 and split_posts(posts) == (train, val)
    train, val = split_posts(posts, CleanConfig(validation="newest"))
    assert texts(val) == ["post number 18", "post number 19"]
    assert split_posts(posts[:5]) == (posts[:5], [])


def test_bad_config_and_nothing_left():
    with pytest.raises(ConfigError, match="replies must be"):
        CleanConfig(replies="maybe")
    with pytest.raises(InputError, match="No posts left"):
        clean_posts([Post(" "), Post("RT @x: y")])


def test_real_japanese_fixture_counts_match_an_independent_count():
    rows = list(csv.DictReader(KOUME_CSV.open(encoding="utf-8")))
    kept, report = clean_posts(load_file(KOUME_CSV))
    assert report.loaded == len(rows) == 4406
    assert sum(report.removed.values()) + report.kept == report.loaded
    # independent count of the posts that are nothing but links
    only_links = sum(1 for r in rows if r["tweet"].strip() and not re.sub(r"https?://\S+|^(@[A-Za-z0-9_]+\s*)+", "", r["tweet"]).strip())
    assert report.removed["links_only"] == only_links
    joined = "\n".join(texts(kept))
    assert not re.search(r"[Ａ-Ｚａ-ｚ０-９]", joined), "full-width letters and digits are folded"
    assert not re.search(r"([〜～!！?？])\1\1", joined), "runs of marks are capped at two"
    assert "〜" not in joined and "～" in joined, "one wave dash"
    assert "http" not in joined and "&amp;" not in joined and "&gt;" not in joined
    assert all(unicodedata.is_normalized("NFC", x) for x in texts(kept))
    assert report.stats["languages"]["ja"] > 4000 and report.stats["date_range"] == ["2011-10-16", "2021-09-25"]


def test_real_x_archive_after_cleaning():
    from tests.conftest import FIXTURES

    kept, report = clean_posts(load_file(FIXTURES / "x-archive-andreruffert.zip"))
    assert report.loaded == 1986 and report.removed["retweets"] == 643
    joined = "\n".join(texts(kept))
    assert "t.co/" not in joined and not re.search(r"https?://", joined)
    assert "&amp;" not in joined and "&gt;" not in joined and "&lt;" not in joined
    assert not any(x.startswith("@") for x in texts(kept)), "leading reply mentions are gone"
    assert not re.search(r"(?<![\w@])@(?!user\b)[A-Za-z0-9_]+", joined), "handles inside the text are masked"
    assert "<progressive-image>" in joined, "decoded entities keep the text they stood for"
    assert report.stats["languages"]["en"] > 900 and report.stats["date_range"][1] == "2022-11-03"


def test_per_script_rules_keep_how_the_person_writes():
    from studio.clean.text import normalize_unicode, script_of

    assert script_of("今日は晴れ") == "ja" and script_of("今天天气很好") == "zh" and script_of("안녕하세요") == "ko"
    assert script_of("今天", "ja") == "ja" and script_of("Hello!", "und") == "" and script_of("すごい", "en") == ""
    zh = "我们，今天（周一）去：北京；好！"
    kept, _ = clean_posts([Post(zh), Post("오늘은 날씨가 좋네요! ~ 정말", lang="ko")])
    assert texts(kept) == [zh, "오늘은 날씨가 좋네요! ~ 정말"], "Chinese and Korean keep their punctuation"
    ja = "ｶﾞｷﾞ　ＡＢＣ１２３，（テスト）：すごい!?~ (´・ω・`) :blobcat: 🎉… (ﾟ∀ﾟ)"
    kept, _ = clean_posts([Post(ja)])
    assert texts(kept) == ["ガギ　ABC123，（テスト）：すごい！？～ (´・ω・`) :blobcat: 🎉… (ﾟ∀ﾟ)"]
    assert normalize_unicode("，…", "NFKC") == ",..." and normalize_unicode("，…") == "，…"
    kept, _ = clean_posts([Post(ja)], CleanConfig(unicode_form="NFKC"))
    assert "," in texts(kept)[0] and "..." in texts(kept)[0], "NFKC is still an option"
    kept, _ = clean_posts([Post("すごい https://example.com/a?b=1~x と思った")], CleanConfig(urls="keep"))
    assert texts(kept) == ["すごい https://example.com/a?b=1~x と思った"], "links keep their marks"
    kept, report = clean_posts([Post("＠ｈａｎａｋｏ さんありがとう", is_reply=True), Post("ping ＠ｂｏｂ about it")])
    assert texts(kept) == ["@user さんありがとう", "ping @user about it"], "full-width handles are masked too"
    with pytest.raises(ConfigError, match="per-script"):
        CleanConfig(unicode_form="NFD")
