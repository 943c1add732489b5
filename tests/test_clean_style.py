"""The style check of the cleaning: every profile measure a step changes is one the step documents."""

import pytest

from studio.clean import CleanConfig, clean_posts
from studio.clean.style import MAY_CHANGE, MEASURES, profile, sample
from studio.errors import InputError
from studio.ingest import Post, load_file
from tests.conftest import FIXTURES

READ = ["koume-dayuu-tweets.csv", "x-archive-andreruffert.zip", "x-archive-ja-tweet.js", "bluesky-wish.car"]
OTHERS = ["instagram-posts_1.json", "youtube-auto-captions-ja.vtt"]  # read once their parsers are in
OFF = dict(replies="keep", html=False, urls="keep", mentions="keep", hashtags="keep", unicode_form="none",
           japanese_marks=False, max_run=0, scrub_emails=False, scrub_phones=False, near_duplicates=False)
ALONE = {"replies": dict(replies="strip"), "html": dict(html=True), "unicode": dict(unicode_form="per-script", japanese_marks=True),
         "urls": dict(urls="remove"), "mentions": dict(mentions="mask"), "runs": dict(max_run=2),
         "privacy": dict(scrub_emails=True, scrub_phones=True)}


def fixture_posts(name):
    try:
        return load_file(FIXTURES / name)
    except InputError as error:
        pytest.skip(f"{name} is not read yet: {error}")


@pytest.mark.parametrize("name", READ + OTHERS)
def test_default_pipeline_changes_only_documented_measures(name):
    _, report = clean_posts(fixture_posts(name))
    assert set(report.style["raw"]) == set(MEASURES) and report.style["posts"] == report.kept
    undocumented = [row for row in report.style_changes if not row["by"]]
    assert undocumented == [], f"{name}: a step changed the style without documenting it"


@pytest.mark.parametrize("name", READ)
def test_each_step_alone_changes_only_what_it_documents(name):
    posts = fixture_posts(name)
    _, report = clean_posts(posts, CleanConfig(**OFF))
    assert {row["measure"] for row in report.style_changes} <= MAY_CHANGE["whitespace"]
    for step, on in ALONE.items():
        _, report = clean_posts(posts, CleanConfig(**{**OFF, **on}))
        changed = {row["measure"] for row in report.style_changes}
        assert changed <= MAY_CHANGE[step] | MAY_CHANGE["whitespace"], f"{name}: {step} changed {changed - MAY_CHANGE[step]}"


def test_per_script_keeps_cjk_punctuation_that_nfkc_folds():
    posts = [Post("我们，今天（周一）去：北京；好！"), Post("すごい…（笑）　本当に，ね"), Post("(´・ω・`) :blobcat: いいね")]
    _, kept = clean_posts(posts)
    _, folded = clean_posts(posts, CleanConfig(unicode_form="NFKC"))
    assert kept.style_changes == []
    changes = {row["measure"]: row for row in folded.style_changes}
    assert {"fullwidth_punct", "ellipses", "ideographic_space", "kaomoji"} <= set(changes)
    assert changes["fullwidth_punct"]["change"] < 0 and changes["fullwidth_punct"]["by"] == ["unicode"]
    assert profile(["ＡＢＣ！"])["fullwidth_alnum"] == 3 and profile(["Hi\nthere"])["line_breaks"] == 1
    assert sample(10) == list(range(10)) and len(sample(50_000)) == 20_000 == len(set(sample(50_000)))
