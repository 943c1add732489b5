"""Reddit's data export: comments.csv and posts.csv, alone or in the zip; nothing else in the zip is read."""

from __future__ import annotations

import csv
import io

import pytest

from studio.errors import InputError
from studio.ingest import load_file
from tests.test_ingest_exports import write_zip

COMMENTS = (
    "id,permalink,date,ip,subreddit,gildings,link,parent,body,media\n"
    "c1,https://www.reddit.com/r/python/comments/p1/my_post/c1/,2023-01-15 12:34:56 UTC,,python,0,"
    "https://www.reddit.com/r/python/comments/p1/my_post/,,\"Thanks, all! I said \"\"yes\"\".\n\nSecond paragraph.\",\n"
    "c2,https://www.reddit.com/r/python/comments/p9/other/c2/,2023-01-16 08:00:00 UTC,,python,0,"
    "https://www.reddit.com/r/python/comments/p9/other/,t1_x7,[deleted],\n"
    "c3,https://www.reddit.com/r/python/comments/p1/my_post/c3/,2023-01-17 09:00:00 UTC,,python,0,"
    "https://www.reddit.com/r/python/comments/p1/my_post/,c1,\"Replying to myself, again\",\n"
)
POSTS = (
    "id,permalink,date,ip,subreddit,gildings,title,url,body\n"
    "p1,https://www.reddit.com/r/python/comments/p1/my_post/,2023-01-15 10:00:00 UTC,,python,0,"
    "\"My post, with a comma\",https://www.reddit.com/r/python/comments/p1/my_post/,\"The body\nover lines\"\n"
    "p2,https://www.reddit.com/r/pics/comments/p2/a_link/,2023-01-18 10:00:00 UTC,,pics,0,A link,https://example.com/,\n"
)


def _count(text: str) -> int:
    return len(list(csv.DictReader(io.StringIO(text, newline=""))))


def test_reddit_comments_csv(tmp_path):
    path = tmp_path / "comments.csv"
    path.write_text(COMMENTS, encoding="utf-8")
    posts = load_file(path)
    assert len(posts) == _count(COMMENTS) == 3
    assert posts[0].text == 'Thanks, all! I said "yes".\n\nSecond paragraph.'
    assert (posts[0].source, posts[0].id, posts[0].created_at) == ("reddit", "c1", "2023-01-15T12:34:56+00:00")
    assert [(p.is_reply, p.reply_to_id) for p in posts] == [(True, "p1"), (True, "x7"), (True, "c1")]
    assert posts[1].text == ""  # [deleted]


def test_reddit_zip_reads_posts_and_comments_only(tmp_path):
    path = write_zip(tmp_path / "export_someone_20240101.zip", {
        "posts.csv": POSTS, "comments.csv": COMMENTS,
        "messages.csv": "id,permalink,thread_id,date,from,to,subject,body\nm1,,,,a,b,hi,PRIVATE MESSAGE\n",
        "chat_history.csv": "message_id,body\n1,PRIVATE CHAT\n",
    })
    posts = load_file(path)
    assert len(posts) == _count(POSTS) + _count(COMMENTS) == 5
    assert posts[0].text == "My post, with a comma\n\nThe body\nover lines" and not posts[0].is_reply
    assert posts[1].text == "A link" and posts[1].id == "p2"
    assert not any("PRIVATE" in p.text for p in posts)
    own = {p.id for p in posts}
    assert [p.reply_to_id in own for p in posts[2:]] == [True, False, True]  # answers to the person's own post/comment


def test_reddit_zip_with_something_else_called_comments(tmp_path):
    path = write_zip(tmp_path / "reddit.zip", {"comments.csv": "when,what\n1,hello\n"})
    with pytest.raises(InputError, match="not Reddit's comments.csv or posts.csv.*Upload the files"):
        load_file(path)
