"""Several uploads, one persona: each post knows its upload, the funnel counts per source, the split keeps them all."""

from __future__ import annotations

from collections import Counter

from studio.clean import CleanConfig, clean_posts, split_posts
from studio.clean.sources import apportion, kinds_line
from studio.ingest import Post, load_posts, parse_pasted
from tests.conftest import FIXTURES, KOUME_CSV

X_ZIP = FIXTURES / "x-archive-andreruffert.zip"


def test_two_real_exports_per_source_funnel_and_split():
    posts = load_posts([KOUME_CSV, X_ZIP])
    assert {(p.upload, p.source) for p in posts} == {("koume-dayuu-tweets.csv", "csv"), ("x-archive-andreruffert.zip", "x")}
    kept, report = clean_posts(posts)
    sources = report.sources
    assert [s["loaded"] for s in sources.values()] == [4406, 1986]
    assert sum(s["loaded"] for s in sources.values()) == report.loaded
    assert sum(s["kept"] for s in sources.values()) == report.kept == len(kept)
    for step, n in report.removed.items():  # every removed post is counted under its source
        assert sum(s["removed"].get(step, 0) for s in sources.values()) == n
    for name, s in sources.items():
        assert s["loaded"] - sum(s["removed"].values()) == s["kept"] == sum(p.upload == name for p in kept)
    assert sources["x-archive-andreruffert.zip"]["removed"]["retweets"] == 643  # the CSV's retweets are not X's
    rows = report.source_funnel()
    assert abs(sum(r["share"] for r in rows) - 1) < 0.01 and rows[0]["kind"] == "csv"
    assert "by source: koume-dayuu-tweets.csv (csv) 4406 -> " in report.summary()
    assert kinds_line(sources).startswith("CSV/TSV table: ")

    train, validation = split_posts(kept)
    assert len(validation) == round(len(kept) * 0.1) and len(train) + len(validation) == len(kept)
    per_train, per_val = Counter(p.upload for p in train), Counter(p.upload for p in validation)
    assert set(per_train) == set(per_val) == set(sources)
    for name, s in sources.items():  # each source is held out in proportion (within one post)
        assert abs(per_val[name] - 0.1 * s["kept"]) <= 1
    assert split_posts(kept) == (train, validation)
    newest_train, newest_val = split_posts(kept, CleanConfig(validation="newest"))
    assert set(p.upload for p in newest_val) == set(sources)


def test_report_round_trips_and_unticked_posts_count_under_their_source():
    from studio.clean import CleanReport

    posts = [Post(f"post number {i} from the notes file", source="text", upload="notes.txt") for i in range(12)]
    posts += parse_pasted("a pasted line that is long enough\nanother pasted line here")
    _, report = clean_posts(posts, CleanConfig(near_duplicates=False))
    again = CleanReport.from_dict(report.to_dict())
    assert again.sources == report.sources and set(again.sources) == {"notes.txt", "pasted"}
    again.drop("unticked", "x", source="pasted")
    assert again.sources["pasted"]["kept"] == 1 and again.sources["pasted"]["removed"] == {"unticked": 1}


def test_a_single_post_source_goes_to_training_and_same_names_are_told_apart(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder, lines in (("a", 20), ("b", 1)):
        (tmp_path / folder / "posts.txt").write_text("\n".join(f"{folder} says line {i} today" for i in range(lines)))
    posts = load_posts([tmp_path / "a" / "posts.txt", tmp_path / "b" / "posts.txt"])
    assert Counter(p.upload for p in posts) == {"posts.txt": 20, "posts.txt (2)": 1}
    assert {p.source for p in posts} == {"text"}
    train, validation = split_posts(posts)
    assert len(validation) == 2 and {p.upload for p in validation} == {"posts.txt"}
    assert sum(p.upload == "posts.txt (2)" for p in train) == 1


def test_apportion_keeps_the_fraction_and_every_source():
    assert apportion([90, 10], 10) == [9, 1]
    assert apportion([100, 3, 2, 1], 10) == [8, 1, 1, 0]
    assert apportion([5, 5, 5], 2) == [1, 1, 0]  # fewer held-out posts than sources: the first largest
    assert sum(apportion([1000, 999, 7], 200)) == 200


def test_persona_report_and_card_show_the_sources_by_kind_never_the_posts(tmp_path):
    from studio.persona.card import build_card
    from studio.persona.registry import Persona
    from studio.persona.summary import describe

    posts = load_posts([KOUME_CSV, X_ZIP])
    kept, report = clean_posts(posts)
    persona = Persona(name="mix", slug="mix", base_model={"id": "HuggingFaceTB/SmolLM2-135M-Instruct"},
                      data=report.to_dict(), path=tmp_path / "mix")
    (tmp_path / "mix" / "adapter").mkdir(parents=True)
    x, csv = report.sources["x-archive-andreruffert.zip"], report.sources["koume-dayuu-tweets.csv"]
    line = f"CSV/TSV table: {csv['kept']} kept of 4406, X archive: {x['kept']} kept of 1986"
    card, text = str(build_card(persona)), describe(persona)
    assert line in card and line in text
    for shown in (card, text):  # counts by kind only: no file names, no posts
        assert "koume-dayuu-tweets.csv" not in shown and "andreruffert.zip" not in shown
        assert kept[0].text not in shown and kept[-1].text not in shown


def test_cli_ingest_of_two_exports_says_each_source(tmp_path):
    import json

    from tests.test_cli import studio

    out, report = tmp_path / "posts.jsonl", tmp_path / "report.json"
    result = studio("ingest", KOUME_CSV, X_ZIP, "--out", out, "--report", report)
    assert result.returncode == 0, result.stderr
    assert "by source: koume-dayuu-tweets.csv (csv) 4406 -> " in result.stdout
    assert "x-archive-andreruffert.zip (x) 1986 -> " in result.stdout
    written = [json.loads(line) for line in out.read_text().splitlines()]
    saved = json.loads(report.read_text())["sources"]
    assert {p["upload"] for p in written} == set(saved) and {p["source"] for p in written} == {"csv", "x"}
    assert sum(s["kept"] for s in saved.values()) == len(written)
    again = load_posts([out])  # the studio's own output read again keeps each post's upload and kind
    assert Counter((p.upload, p.source) for p in again) == Counter((p["upload"], p["source"]) for p in written)
