import pytest

from studio.clean import clean_posts
from studio.errors import InputError
from studio.ingest import Post


def test_strips_drops_empty_and_exact_duplicates():
    posts = [Post("  hello  "), Post(""), Post("hello"), Post(" \n "), Post("two\n  lines "), Post("world")]
    kept, report = clean_posts(posts)
    assert [p.text for p in kept] == ["hello", "two\nlines", "world"]
    assert report.loaded == 6 and report.kept == 3
    assert report.removed == {"empty": 2, "duplicates": 1}
    assert report.examples["duplicates"] == ["hello"]
    assert report.summary() == "6 loaded, 3 kept (removed: 2 empty, 1 duplicates)"


def test_nothing_left_is_an_error():
    with pytest.raises(InputError, match="No posts left"):
        clean_posts([Post(" "), Post("")])
