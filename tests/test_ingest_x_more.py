"""X archives beyond tweets.js: the pre-2019 tweets.csv, long posts in note-tweet.js, deleted tweets never read."""

from __future__ import annotations

import csv
import io
import json

import pytest

from studio.errors import InputError
from studio.ingest import load_file
from tests.test_ingest_exports import tweet, tweets_js, write_zip

TWEETS_CSV = (
    '"tweet_id","in_reply_to_status_id","in_reply_to_user_id","timestamp","source","text",'
    '"retweeted_status_id","retweeted_status_user_id","retweeted_status_timestamp","expanded_urls"\n'
    '"30","","","2012-03-01 10:00:00 +0000","<a href=""http://twitter.com"">web</a>","Hello, ""world""\n'
    'on two lines","","","",""\n'
    '"31","30","12","2012-03-02 11:30:00 +0100","web","@bob yes, indeed","","","",""\n'
    '"32","","","2012-03-03 09:00:00 +0000","web","RT @carol: theirs","99","7","2012-03-03 08:00:00 +0000",""\n'
)


def test_old_tweets_csv_alone_and_in_the_old_zip(tmp_path):
    alone = tmp_path / "tweets.csv"
    alone.write_text(TWEETS_CSV, encoding="utf-8")
    old = write_zip(tmp_path / "twitter-archive.zip", {"tweets.csv": TWEETS_CSV, "data/js/tweets/2012_03.js": "Grailbird = []",
                                                       "index.html": "<html></html>"})
    records = list(csv.DictReader(io.StringIO(TWEETS_CSV, newline="")))
    for path in (alone, old):
        posts = load_file(path)
        assert len(posts) == len(records) == 3
        assert posts[0].text == 'Hello, "world"\non two lines' and posts[0].source == "x"
        assert posts[0].created_at == "2012-03-01T10:00:00+00:00" and posts[0].id == "30"
        assert (posts[1].is_reply, posts[1].reply_to_id, posts[1].created_at) == (True, "30", "2012-03-02T10:30:00+00:00")
        assert [p.is_retweet for p in posts] == [False, False, True]


def test_tweets_csv_that_is_not_one(tmp_path):
    path = tmp_path / "old.zip"
    write_zip(path, {"tweets.csv": "tweet_id,body\n1,hi\n"})
    with pytest.raises(InputError, match="not an X archive's tweets.csv.*Upload tweets.csv"):
        load_file(path)


LONG = "A long post that goes on and on, " * 12 + "and ends here."


def _notes(*notes) -> str:
    return "window.YTD.note_tweet.part0 = " + json.dumps([{"noteTweet": n} for n in notes])


def test_note_tweets_give_long_posts_their_full_text(tmp_path):
    truncated = LONG[:270] + "… https://t.co/abc"
    other_long = "Another long one, matched by its prefix only. " * 8
    path = write_zip(tmp_path / "x.zip", {
        "data/tweets.js": tweets_js([tweet(1, truncated), tweet(2, "short and whole"),
                                     {"tweet": {"id_str": "3", "full_text": other_long[:200] + "…",
                                                "created_at": "Mon Jan 01 00:00:00 +0000 2024"}}]),
        "data/note-tweet.js": _notes(
            {"noteTweetId": "n1", "createdAt": "2022-02-11T16:54:22.000Z", "core": {"text": LONG}},
            {"noteTweetId": "n2", "createdAt": "2023-06-01T00:00:00.000Z", "core": {"text": other_long}},
            {"noteTweetId": "n3", "createdAt": "2021-01-01T00:00:00.000Z", "core": {"text": "a draft nobody posted"}}),
    })
    posts = load_file(path)
    assert [p.text for p in posts] == [LONG, "short and whole", other_long]
    assert [p.id for p in posts] == ["1", "2", "3"]


def test_deleted_tweets_never_read(tmp_path):
    path = write_zip(tmp_path / "x.zip", {
        "data/tweets.js": tweets_js([tweet(1, "kept")]),
        "data/deleted-tweets.js": tweets_js([tweet(2, "I deleted this")], kind="deleted_tweets"),
        "data/deleted-note-tweet.js": _notes({"createdAt": "2022-02-11T16:54:22.000Z", "core": {"text": "kept, deleted"}}),
    })
    assert [p.text for p in load_file(path)] == ["kept"]
    bare = tmp_path / "deleted-tweets.js"
    bare.write_text(tweets_js([tweet(2, "I deleted this")], kind="deleted_tweets"))
    with pytest.raises(InputError, match="'deleted_tweets' data, not the person's own tweets"):
        load_file(bare)


def test_damaged_note_tweets(tmp_path):
    path = write_zip(tmp_path / "x.zip", {"data/tweets.js": tweets_js([tweet(1, "kept")]),
                                          "data/note-tweet.js": "window.YTD.note_tweet.part0 = [{\"noteTw"})
    with pytest.raises(InputError, match="note-tweet.js is not valid JSON.*export the archive again"):
        load_file(path)


def test_bare_note_tweet_js_says_upload_the_zip(tmp_path):
    path = tmp_path / "note-tweet.js"
    path.write_text(_notes({"createdAt": "2022-02-11T16:54:22.000Z", "core": {"text": LONG}}))
    with pytest.raises(InputError, match="full text of long X posts.*Upload the whole archive .zip"):
        load_file(path)
