"""Social-media exports: X archives, Mastodon archives, Bluesky CAR files, hostile archives, text blocks."""

import hashlib
import io
import json
import re
import tarfile
import zipfile
from datetime import datetime

import pytest

from studio.errors import InputError
from studio.ingest import archives, load_file, parse_pasted
from studio.ingest.mastodon import html_to_text, load_mastodon
from studio.ingest.text import parse_text
from studio.ingest.x_archive import expand_links, parse_tweets_js
from tests.conftest import FIXTURES

X_ZIP = FIXTURES / "x-archive-andreruffert.zip"


# --- builders ---------------------------------------------------------------------------------

def tweets_js(items, kind="tweets", part=0) -> str:
    return f"window.YTD.{kind}.part{part} = " + json.dumps(items, indent=2)


def tweet(id_, text, **fields) -> dict:
    return {"tweet": {"id_str": str(id_), "full_text": text, "created_at": "Fri Feb 11 16:54:22 +0000 2022",
                      "lang": "en", "retweeted": False, "entities": {"urls": [], "user_mentions": []}, **fields}}


def write_zip(path, members: dict):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_tar_gz(path, members: dict):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def fixture_member(name: str) -> list:
    with zipfile.ZipFile(X_ZIP) as archive:
        text = archive.read(name).decode("utf-8")
    return json.loads(text[text.index("["):])


# --- X archive --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def x_posts():
    return load_file(X_ZIP)


def test_x_fixture_counts_and_flags(x_posts):
    assert len(x_posts) == 1986
    assert sum(p.is_retweet for p in x_posts) == 643
    replies = [p for p in x_posts if p.is_reply]
    # 485 carry in_reply_to_status_id; 68 more open with an @handle and carry only in_reply_to_user_id.
    assert len(replies) == 553
    assert all(p.reply_to for p in replies)
    assert not any(p.reply_to for p in x_posts if not p.is_reply)
    ids = {p.id for p in x_posts}
    assert sum(p.reply_to_id in ids for p in replies) == 65  # replies within the owner's own threads: parent text known
    assert all(p.lang for p in x_posts) and all(p.id for p in x_posts)
    assert len({p.id for p in x_posts}) == 1986
    assert all(datetime.fromisoformat(p.created_at).utcoffset().total_seconds() == 0 for p in x_posts)
    first = x_posts[0]
    assert (first.id, first.created_at) == ("1588091220244369409", "2022-11-03T08:50:26+00:00")
    assert first.text == "Good morning #LeadDevBerlin 👋"  # the photo's t.co link is gone


def test_x_fixture_never_reads_likes(x_posts):
    liked = {item["like"]["fullText"] for item in fixture_member("data/like.js") if item["like"].get("fullText")}
    assert len(liked) > 1000
    assert not liked & {p.text for p in x_posts}


def test_x_fixture_links_expanded_media_links_dropped(x_posts):
    by_id = {p.id: p for p in x_posts}
    expanded = dropped = 0
    for item in fixture_member("data/tweets.js"):
        raw = item["tweet"]
        post = by_id[raw["id_str"]]
        for link in raw["entities"].get("urls", []):
            if link.get("expanded_url") and link["url"] in raw["full_text"]:
                assert link["url"] not in post.text and link["expanded_url"] in post.text
                expanded += 1
        for media in raw.get("extended_entities", {}).get("media", []):
            assert media["url"] not in post.text
            dropped += 1
        if "&amp;" in raw["full_text"]:
            assert "&amp;" in post.text  # entities are the cleaning's job
    assert expanded > 300 and dropped > 100
    # The only t.co links left are the ones X itself cut short inside retweets ("https://t.co/hP4Y…").
    assert all(p.is_retweet for p in x_posts if "t.co/" in p.text)


def test_x_bare_tweets_js_and_renamed_zip(tmp_path):
    path = tmp_path / "tweets.js"
    path.write_text(tweets_js([tweet(1, "RT @bob: hi"), tweet(2, "@bob yes", in_reply_to_status_id_str="1",
                                                                 in_reply_to_screen_name="bob")]), encoding="utf-8")
    posts = load_file(path)
    assert [(p.id, p.is_retweet, p.is_reply, p.reply_to) for p in posts] == [("1", True, False, None), ("2", False, True, "bob")]
    renamed = tmp_path / "download"  # recognised by content, not by name
    renamed.write_bytes(X_ZIP.read_bytes())
    assert len(load_file(renamed)) == 1986


def test_x_split_parts_in_order(tmp_path):
    path = write_zip(tmp_path / "twitter.zip", {
        "data/tweets-part2.js": tweets_js([tweet(5, "five")], part=2),
        "data/tweets.js": tweets_js([tweet(1, "one"), tweet(2, "two")]),
        "data/tweets-part1.js": tweets_js([tweet(3, "three"), tweet(4, "four")], part=1),
        "data/like.js": tweets_js([{"like": {"tweetId": "9", "fullText": "someone else"}}], kind="like"),
        "data/direct-messages.js": tweets_js([{"dmConversation": {"messages": [{"text": "secret"}]}}], kind="direct_messages"),
    })
    assert [p.text for p in load_file(path)] == ["one", "two", "three", "four", "five"]


def test_x_older_tweet_js_naming_and_flat_items(tmp_path):
    flat = {"id_str": "7", "full_text": "old style &amp; flat", "created_at": "Mon Jan 02 03:04:05 +0100 2017", "lang": "de"}
    path = write_zip(tmp_path / "old.zip", {
        "twitter-2019/data/tweet.js": tweets_js([flat], kind="tweet"),
        "twitter-2019/data/tweet-part1.js": tweets_js([tweet(8, "part one")], kind="tweet", part=1),
    })
    posts = load_file(path)
    assert [(p.id, p.text, p.lang) for p in posts] == [("7", "old style &amp; flat", "de"), ("8", "part one", "en")]
    assert posts[0].created_at == "2017-01-02T02:04:05+00:00"


def test_x_expand_links_unit():
    raw = tweet(1, "see https://t.co/abc &amp; https://t.co/abcd pic https://t.co/med",
                entities={"urls": [{"url": "https://t.co/abc", "expanded_url": "https://example.com/a"},
                                   {"url": "https://t.co/abcd", "expanded_url": "https://example.com/b"}],
                          "media": [{"url": "https://t.co/med"}]})["tweet"]
    assert expand_links(raw["full_text"], raw) == "see https://example.com/a &amp; https://example.com/b pic"


def test_x_other_archive_files_refused(tmp_path):
    like = tmp_path / "like.js"
    like.write_text(tweets_js([{"like": {"fullText": "not mine"}}], kind="like"), encoding="utf-8")
    with pytest.raises(InputError, match="holds X 'like' data, not the person's own tweets"):
        load_file(like)
    with pytest.raises(InputError, match="not an X archive file"):
        parse_tweets_js("var x = 1;", "script.js")
    cut = tmp_path / "tweets.js"
    cut.write_text(tweets_js([tweet(1, "a")])[:-20], encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON.*export the archive again"):
        load_file(cut)


# --- Mastodon ---------------------------------------------------------------------------------

ME = "https://social.example/users/alice"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def create(n, content, to=(PUBLIC,), cc=(f"{ME}/followers",), **obj):
    status = f"{ME}/statuses/{n}"
    note = {"id": status, "type": "Note", "summary": None, "inReplyTo": None, "published": f"2023-01-0{n}T10:00:00Z",
            "url": f"https://social.example/@alice/{n}", "attributedTo": ME, "to": list(to), "cc": list(cc),
            "sensitive": False, "content": content, "contentMap": {"en": content}, "attachment": [], "tag": [], **obj}
    return {"id": f"{status}/activity", "type": "Create", "actor": ME, "published": note["published"],
            "to": list(to), "cc": list(cc), "object": note}


def outbox() -> str:
    items = [
        create(1, "<p>a<br>b</p><p>c</p>"),
        create(2, '<p>Fish &amp; chips at <a href="https://chips.example/menu" rel="nofollow noopener" target="_blank">'
                  '<span class="invisible">https://</span><span class="">chips.example/menu</span></a> '
                  '<span class="h-card"><a href="https://x.example/@bob" class="u-url mention">@<span>bob</span></a></span></p>',
               to=(f"{ME}/followers",), cc=(PUBLIC,), summary="food talk", contentMap={"de": "x"}),
        {"id": f"{ME}/statuses/3/activity", "type": "Announce", "actor": ME, "published": "2023-01-03T10:00:00Z",
         "to": [PUBLIC], "cc": [f"{ME}/followers"], "object": "https://other.example/users/carol/statuses/99"},
        create(4, "<p>followers only</p>", to=(f"{ME}/followers",), cc=()),
        create(5, "<p>just for you</p>", to=("https://x.example/users/bob",), cc=()),
        create(6, "<p>a reply</p>", inReplyTo="https://x.example/users/bob/statuses/42"),
        create(7, "<p>not mine</p>", attributedTo="https://x.example/users/mallory"),
        {"id": f"{ME}#likes/1", "type": "Like", "actor": ME, "object": "https://x.example/users/bob/statuses/1"},
    ]
    return json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": "outbox.json",
                       "type": "OrderedCollection", "totalItems": len(items), "orderedItems": items}, indent=1)


def test_mastodon_outbox(tmp_path):
    path = tmp_path / "outbox.json"
    path.write_text(outbox(), encoding="utf-8")
    posts = load_file(path)
    assert [p.text for p in posts] == [
        "a\nb\n\nc",
        "Fish & chips at https://chips.example/menu @bob",
        "https://other.example/users/carol/statuses/99",
        "a reply",
    ]
    plain, cw, boost, reply = posts
    assert (plain.lang, plain.visibility, plain.created_at, plain.id) == ("en", "public", "2023-01-01T10:00:00Z", f"{ME}/statuses/1")
    assert (cw.content_warning, cw.visibility, cw.lang) == ("food talk", "unlisted", "de")
    assert "food talk" not in cw.text and plain.content_warning is None
    assert boost.is_retweet and not plain.is_retweet
    assert (reply.is_reply, reply.reply_to) == (True, "bob@x.example") and not plain.is_reply


def test_mastodon_private_posts_left_out_by_default(tmp_path):
    path = tmp_path / "outbox.json"
    path.write_text(outbox(), encoding="utf-8")
    posts, skipped = load_mastodon(path)
    assert skipped == 2 and "followers only" not in {p.text for p in posts}
    posts, skipped = load_mastodon(path, include_private=True)
    assert skipped == 0
    assert {p.text: p.visibility for p in posts}["followers only"] == "private"
    assert {p.text: p.visibility for p in posts}["just for you"] == "direct"
    assert len(load_file(path, include_private=True)) == 6


def test_mastodon_archives_tar_gz_and_zip(tmp_path):
    members = {"media_attachments/files/1/original/cat.jpg": b"\xff\xd8" + b"\x00" * 5000, "outbox.json": outbox(),
               "likes.json": json.dumps({"orderedItems": ["https://x.example/users/bob/statuses/1"]}), "actor.json": "{}"}
    tar_path = write_tar_gz(tmp_path / "archive-20240101-abc.tar.gz", members)
    zip_path = write_zip(tmp_path / "archive-20240101-abc.zip", members)  # Mastodon 4.1+ exports zip
    for path in (tar_path, zip_path):
        posts = load_file(path)
        assert [p.text for p in posts][:2] == ["a\nb\n\nc", "Fish & chips at https://chips.example/menu @bob"], path.name
        assert len(posts) == 4
    only_private = json.dumps({"type": "OrderedCollection", "orderedItems": [create(4, "<p>hush</p>", to=(f"{ME}/followers",), cc=())]})
    path = write_tar_gz(tmp_path / "private.tar.gz", {"outbox.json": only_private})
    with pytest.raises(InputError, match="all 1 posts are followers-only or direct"):
        load_file(path)
    with pytest.raises(InputError, match="no outbox.json inside"):
        load_file(write_tar_gz(tmp_path / "other.tar.gz", {"notes.txt": "hello"}))


def test_html_to_text():
    assert html_to_text("<p>a<br>b</p><p>c</p>") == "a\nb\n\nc"
    assert html_to_text("<p>R&amp;D &lt;3 &#39;quoted&#39;</p>") == "R&D <3 'quoted'"
    assert html_to_text('<p><a href="https://tags.example/tags/py" class="mention hashtag">#<span>py</span></a></p>') == "#py"


# --- Bluesky ----------------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def write_car(path, did="did:plc:alice"):
    """A small repository CAR: commit -> MST (two levels) -> post, reply and like records, plus a stray record."""
    import libipld

    blocks = []

    def put(obj) -> bytes:
        data = libipld.encode_dag_cbor(obj)
        cid = bytes([1, 0x71, 0x12, 0x20]) + hashlib.sha256(data).digest()
        blocks.append((cid, data))
        return cid

    text = "Read this: example.com/long... 🎉"
    start = len("Read this: ".encode())
    post = put({"$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-03-01T10:00:00.000Z", "langs": ["en"],
                "facets": [{"index": {"byteStart": start, "byteEnd": start + len("example.com/long...")},
                            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/long/path"}]}]})
    reply = put({"$type": "app.bsky.feed.post", "text": "@bob.example agreed", "createdAt": "2024-03-02T10:00:00.000Z",
                 "reply": {"root": {"uri": "at://did:plc:bob/app.bsky.feed.post/3k0", "cid": "x"},
                           "parent": {"uri": "at://did:plc:bob/app.bsky.feed.post/3k0", "cid": "x"}}})
    like = put({"$type": "app.bsky.feed.like", "subject": {"uri": "at://did:plc:bob/app.bsky.feed.post/3k0"},
                "createdAt": "2024-03-03T10:00:00.000Z"})
    put({"$type": "app.bsky.feed.post", "text": "deleted long ago", "createdAt": "2024-01-01T00:00:00.000Z"})
    subtree = put({"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/3kb", "v": reply, "t": None}]})
    root = put({"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.like/3ka", "v": like, "t": None},
                                 {"p": 14, "k": b"post/3ka", "v": post, "t": subtree}]})
    commit = put({"did": did, "version": 3, "data": root, "rev": "3kc", "prev": None})
    header = libipld.encode_dag_cbor({"roots": [commit], "version": 1})
    body = b"".join(_varint(len(cid) + len(data)) + cid + data for cid, data in blocks)
    path.write_bytes(_varint(len(header)) + header + body)
    return path


def test_bluesky_car_own_posts_only(tmp_path):
    posts = load_file(write_car(tmp_path / "repo.car"))
    assert [p.text for p in posts] == ["Read this: https://example.com/long/path 🎉", "@bob.example agreed"]
    first, reply = posts
    assert (first.id, first.lang, first.created_at) == ("at://did:plc:alice/app.bsky.feed.post/3ka", "en", "2024-03-01T10:00:00.000Z")
    assert (reply.is_reply, reply.reply_to, first.is_reply) == (True, "did:plc:bob", False)
    renamed = tmp_path / "export.bin"
    renamed.write_bytes((tmp_path / "repo.car").read_bytes())
    assert len(load_file(renamed)) == 2


def test_bluesky_damaged_car(tmp_path):
    data = write_car(tmp_path / "repo.car").read_bytes()
    (tmp_path / "cut.car").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable Bluesky repository export"):
        load_file(tmp_path / "cut.car")
    (tmp_path / "junk.car").write_bytes(b"hello, not a car")
    with pytest.raises(InputError, match="not a readable Bluesky repository export"):
        load_file(tmp_path / "junk.car")


# --- hostile and broken archives --------------------------------------------------------------

def test_traversal_members_never_extracted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "in"
    work.mkdir()
    path = write_zip(work / "x.zip", {"../evil.js": "window.YTD.tweets.part0 = []", "/abs.js": "x",
                                      "data/tweets.js": tweets_js([tweet(1, "mine")])})
    assert [p.text for p in load_file(path)] == ["mine"]
    escaping = write_zip(work / "y.zip", {"../data/tweets.js": tweets_js([tweet(1, "sneaky")])})
    with pytest.raises(InputError, match="points outside the archive"):
        load_file(escaping)
    tar = write_tar_gz(work / "z.tar.gz", {"../outbox.json": outbox()})
    with pytest.raises(InputError, match="points outside the archive"):
        load_file(tar)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["in", "x.zip", "y.zip", "z.tar.gz"]
    assert not (tmp_path.parent / "evil.js").exists() and not (tmp_path.parent / "outbox.json").exists()


def test_zip_bomb_stops_early(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "RATIO_MIN_BYTES", 1024 * 1024)
    bomb = "window.YTD.tweets.part0 = [" + " " * (8 * 1024 * 1024) + "]"
    path = write_zip(tmp_path / "bomb.zip", {"data/tweets.js": bomb})
    assert path.stat().st_size < 100_000
    with pytest.raises(InputError, match="200 times its packed size.*zip bomb"):
        load_file(path)
    monkeypatch.setattr(archives, "MAX_READ_BYTES", 4 * 1024 * 1024)
    with pytest.raises(InputError, match="says it unpacks to 8 MB"):
        load_file(path)
    tar = write_tar_gz(tmp_path / "bomb.tar.gz", {"media/zeros.bin": b"\x00" * (8 * 1024 * 1024), "outbox.json": outbox()})
    with pytest.raises(InputError, match="zip bomb"):
        load_file(tar)


def test_total_read_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MAX_READ_BYTES", 3000)
    parts = {f"data/tweets-part{i}.js": tweets_js([tweet(i, "x" * 1000)], part=i) for i in (1, 2, 3)}
    with pytest.raises(InputError, match="unpacks to more than 0 MB"):
        load_file(write_zip(tmp_path / "big.zip", parts))


def test_damaged_archives(tmp_path):
    data = X_ZIP.read_bytes()
    (tmp_path / "cut.zip").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    offset = data.index(b"data/tweets.js") + 5000  # inside the compressed tweets
    flipped[offset:offset + 64] = bytes(64)
    (tmp_path / "flipped.zip").write_bytes(bytes(flipped))
    for name in ("cut.zip", "flipped.zip"):
        with pytest.raises(InputError, match="is damaged or truncated; export it again"):
            load_file(tmp_path / name)
    tar = write_tar_gz(tmp_path / "archive.tar.gz", {"outbox.json": outbox() * 20}).read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(tar[: len(tar) // 2])
    with pytest.raises(InputError, match="is damaged or truncated"):
        load_file(tmp_path / "cut.tar.gz")


@pytest.mark.parametrize("name", ["random.zip", "random.tar.gz", "random.tgz"])
def test_random_bytes_named_as_archive(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(InputError, match=r"is not a \.(zip|tar\.gz|tgz) archive"):
        load_file(path)


def test_gzip_that_is_not_a_tar(tmp_path):
    import gzip

    path = tmp_path / "posts.txt.gz"
    path.write_bytes(gzip.compress(b"hello\nworld\n"))
    with pytest.raises(InputError, match="holds no tar archive.*Decompress it"):
        load_file(path)


def test_zip_without_posts(tmp_path):
    path = write_zip(tmp_path / "photos.zip", {"img/cat.jpg": b"\xff\xd8", "data/like.js": "window.YTD.like.part0 = []"})
    with pytest.raises(InputError, match="no data/tweets.js inside: is this an X archive"):
        load_file(path)
    old = write_zip(tmp_path / "old.zip", {"tweets.csv": "tweet_id,text\n1,hi\n"})
    with pytest.raises(InputError, match="not an X archive's tweets.csv"):  # old archives are read now (no timestamp here)
        load_file(old)


# --- plain text -------------------------------------------------------------------------------

def test_text_blocks_auto_and_modes(tmp_path):
    blocks = "First post,\nsecond line.\n\nAnother post\nover two lines\n\nA short one\n"
    assert [p.text for p in parse_text(blocks, "t")] == ["First post,\nsecond line.", "Another post\nover two lines", "A short one"]
    lines = "one\ntwo\n\nthree\nfour\n\nfive\n\nsix\n"  # mostly one-line blocks: one post per line
    assert [p.text for p in parse_text(lines, "t")] == ["one", "two", "three", "four", "five", "six"]
    assert [p.text for p in parse_text(lines, "t", mode="blocks")] == ["one\ntwo", "three\nfour", "five", "six"]
    assert len(parse_text(blocks, "t", mode="lines")) == 5
    with pytest.raises(ValueError):
        parse_text("x", "t", mode="paragraphs")
    path = tmp_path / "posts.txt"
    path.write_text(blocks.replace("\n", "\r\n"), encoding="utf-8")
    assert [p.text for p in load_file(path)][0] == "First post,\nsecond line."
    assert [p.text for p in parse_pasted(blocks)][1] == "Another post\nover two lines"
    assert re.fullmatch(r"a\nb", parse_pasted("a\nb\n\nc\nd")[0].text)


def test_display_text_range_drops_the_addressees_of_a_reply():
    from studio.ingest.x_archive import tweet_to_post

    tweet = {"full_text": "@alice @bob thanks, see you there", "display_text_range": ["12", "33"],
             "in_reply_to_status_id_str": "1", "in_reply_to_screen_name": "alice", "entities": {}}
    post = tweet_to_post({"tweet": tweet}, "tweets.js")
    assert post.text == "thanks, see you there" and post.is_reply and post.reply_to == "alice"
    whole = dict(tweet, display_text_range=["0", "33"])
    assert tweet_to_post({"tweet": whole}, "tweets.js").text == tweet["full_text"], "a range from 0 keeps the text"
    odd = dict(tweet, full_text="hello @alice there", display_text_range=["6", "18"])
    assert tweet_to_post({"tweet": odd}, "tweets.js").text == "hello @alice there", "only a prefix of @names is cut"
