"""Style measured in their language, on real posts (the andre and koume fixtures): the character n-gram
profile distance, the discriminator (planted: two halves of the same posts ~0.5, unrelated text ~1.0),
and the register and habits per language."""

from __future__ import annotations

import random
import string

import pytest

from studio.clean import clean_posts
from studio.evaluation import discriminator, habits, report
from studio.ingest import load_posts
from tests.conftest import FIXTURES, KOUME_CSV


@pytest.fixture(scope="module")
def real_posts() -> dict[str, list[str]]:
    """The cleaned posts of both fixtures, seeded shuffle."""
    result = {}
    for name, path in (("andre", FIXTURES / "x-archive-andreruffert.zip"), ("koume", KOUME_CSV)):
        texts = [p.text for p in clean_posts(load_posts([path]))[0]]
        random.Random(0).shuffle(texts)
        result[name] = texts
    return result


def _random_strings(like: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    letters = string.ascii_letters + string.digits + "     .,!?"
    return ["".join(rng.choice(letters) for _ in range(max(len(t), 5))) for t in like]


def _salad(texts: list[str], seed: int = 0) -> list[str]:
    """Each text's characters shuffled: the right script and characters, no language."""
    rng = random.Random(seed)
    return ["".join(rng.sample(t, len(t))) for t in texts]


# --- discriminator ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["andre", "koume"])
def test_discriminator_cannot_tell_two_halves_of_the_same_posts(real_posts, name):
    posts = real_posts[name]
    assert 0.35 <= discriminator.auc(posts[:100], posts[100:200]) <= 0.65


def test_discriminator_tells_their_posts_from_unrelated_text(real_posts):
    japanese, english = real_posts["koume"][:60], real_posts["andre"][:60]
    assert discriminator.auc(japanese, english) >= 0.95
    assert discriminator.auc(english, _random_strings(english)) >= 0.95


def test_discriminate_reports_base_persona_and_the_floor(real_posts):
    posts = real_posts["koume"]
    result = discriminator.discriminate({"base": _salad(posts[:16]), "persona": posts[16:32]}, posts[32:232])
    assert result["folds"] == 5 and result["texts"] == 16 and "reason" not in result
    assert result["base"] >= 0.9  # word salad in the right script: told apart at a glance
    assert result["persona"] <= 0.75 and result["real"] <= 0.75  # their own other posts: hard to tell
    assert result == discriminator.discriminate({"base": _salad(posts[:16]), "persona": posts[16:32]}, posts[32:232])


def test_discriminator_with_tiny_counts(real_posts):
    posts = real_posts["andre"]
    few = discriminator.discriminate({"base": posts[:3], "persona": posts[3:6]}, posts[6:40])
    assert few["folds"] == 3 and few["texts"] == 3 and few["base"] is not None and few["persona"] is not None
    none = discriminator.discriminate({"base": posts[:1], "persona": posts[1:2]}, posts[2:40])
    assert none["base"] is None and none["persona"] is None and none["folds"] == 0
    assert "too few texts" in none["reason"]
    assert discriminator.discriminate({"base": posts[:4], "persona": []}, posts[4:5])["reason"]
    assert discriminator.auc(posts[:1], posts[1:10]) is None


# --- character n-gram profile distance -------------------------------------------------------------

def test_ngram_distance_is_small_for_their_own_posts_and_large_for_unrelated_text(real_posts):
    koume, andre = real_posts["koume"], real_posts["andre"]
    result = discriminator.ngram_distance({"base": _salad(koume[:16]), "persona": koume[16:32],
                                           "english": andre[:16]}, koume[32:232])
    assert set(result) == {"base", "persona", "english", "real"}
    assert abs(result["persona"] - result["real"]) < 0.1  # their other posts: about the floor
    assert result["base"] > result["real"] + 0.2  # shuffled characters share the unigrams only
    assert result["english"] > 0.9  # another script: almost nothing shared
    assert discriminator.ngram_distance({"persona": koume[:4]}, koume[4:5]) is None
    same = discriminator.ngram_distance({"persona": koume[:50]}, koume[:50] * 2)
    assert same["persona"] < 0.05


# --- register and habits per language --------------------------------------------------------------

def test_language_groups_by_script():
    assert [habits.language(t) for t in ("今日はいい天気ですね", "Nice weather today", "오늘 날씨 좋네요",
                                         "今天天气很好", "Привет всем", "🎉🎉 !!")] == ["ja", "en", "ko", "zh", "cyrillic", "none"]


def test_kaomoji_on_real_posts_and_planted_ones(real_posts):
    found = [m.group(0) for t in real_posts["koume"] for m in habits.KAOMOJI.finditer(t)]
    assert {"(゜_゜)", "(≧∇≦)"} <= set(found)
    assert any(":)" in t for t in real_posts["andre"]) and sum(len(habits.KAOMOJI.findall(t)) for t in real_posts["andre"]) >= 50
    planted = "やったー(´・ω・`) ok :) see https://example.com at 19:30 (月) (税込) ^_^ xD 0xD <3"
    assert habits.KAOMOJI.findall(planted) == ["(´・ω・`)", ":)", "^_^", "xD", "<3"]


def test_habits_per_language_with_planted_register():
    real = ["今日は散歩に行きます。", "ラーメンを食べました！", "明日も頑張る。", "雨ですね（笑）",
            "Coffee first, then code.", "Shipped it :)"]
    persona = ["散歩に行く。\n楽しい！", "ラーメン食べた(≧∇≦)", "Coffee, code 🎉"]
    base = ["I am a helpful assistant.", "Sure! Here is a list:\n1. a\n2. b"]
    result = habits.habits({"base": base, "persona": persona, "real": real})
    ja, en = result["ja"], result["en"]
    assert list(result) == ["ja", "en"]
    assert ja["share"] == {"base": 0.0, "persona": 0.667, "real": 0.667} and en["share"]["base"] == 1.0
    assert ja["polite_share"] == {"base": None, "persona": 0.0, "real": 0.75}  # 頑張る is plain; 雨ですね（笑） polite
    assert ja["kaomoji_per_text"]["persona"] == 0.5 and ja["line_breaks_per_text"]["persona"] == 0.5
    assert ja["fullwidth_punct_share"]["real"] == 1.0 and en["emoji_per_text"]["persona"] == 1.0
    assert en["kaomoji_per_text"]["real"] == 0.5 and en["line_breaks_per_text"]["base"] == 1.0
    assert en["length_distance"]["base"] == 1.0 and ja["length_distance"]["base"] is None
    assert set(ja["words"]) == {"base", "persona", "real"}


def test_length_distance_floor_on_real_posts(real_posts):
    posts = real_posts["koume"][:400]
    result = habits.habits({"persona": posts[:200], "short": [p[:5] for p in posts[200:300]], "real": posts[200:400]})
    ja = result["ja"]["length_distance"]
    assert ja["persona"] < 0.15 and ja["real"] < 0.15 and ja["short"] > 0.8


# --- the summary line and verdicts read the discriminator first ------------------------------------

def _result(auc: float, base_auc: float = 0.97, similarity: dict | None = None, **extra) -> dict:
    style = {"discriminator": {"base": base_auc, "persona": auc, "real": 0.5, "folds": 5, "texts": 8},
             "ngram": {"base": 0.7, "persona": 0.4, "real": 0.3},
             "similarity": similarity or {"base": 0.6, "persona": 0.78, "real": 0.78},
             "habits": {"ja": {"share": {"base": 0.5, "persona": 0.25, "real": 1.0},
                               "polite_share": {"base": 0.9, "persona": 0.2, "real": 0.1}}}}
    return {"style": style, "memorisation": {"copy_rate": 0.0, "copied": 0, "replies": 8, "base_copy_rate": 0.0},
            "knowledge": {"kept": 15, "known": 16, "base_accuracy": 0.5, "persona_accuracy": 0.47, "lost": [], "rows": []},
            "config": {}, **extra}


def test_word_salad_is_never_said_to_sound_like_them():
    """koume's case: the English embedder scores Japanese-looking noise as close as their posts (0.78),
    the classifier tells it apart at a glance."""
    result = _result(0.98)
    summary, verdicts = report.summary_line(result), report.verdicts(result)
    assert summary.startswith("sounds like them: no, told apart at a glance: a classifier tells replies from their "
                              "posts at AUC 0.98 (base 0.97, their own posts 0.50); n-gram distance 0.40")
    assert verdicts["style"] == "told apart at a glance" and "close to their posts" not in str(verdicts)
    assert "style (English embedding)" not in verdicts and "embedding" not in summary
    assert verdicts["language"] == "often not in their language (ja: 25% of replies, 100% of their posts)"


def test_summary_names_the_auc_and_the_base_models():
    result = _result(0.62, 0.95)
    assert report.summary_line(result).startswith(
        "sounds like them: hard to tell from their posts: a classifier tells replies from their posts at AUC 0.62 (base 0.95")
    assert report.verdicts(_result(0.8, 0.95))["style"] == "closer than the base model"
    assert report.verdicts(_result(0.8, 0.85))["style"] == "no closer than the base model"
    rows = {m: (b, p, r) for m, b, p, r in report.metrics_rows(result)}
    assert rows["classifier AUC against their posts (0.5 = can't tell)"] == (0.95, 0.62, 0.5)
    assert rows["character n-gram distance to their posts (0 = same)"] == (0.7, 0.4, 0.3)
    assert rows["embedding similarity to their posts (English-only)"] == (0.6, 0.78, 0.78)
    assert rows["ja: sentences in です/ます form"] == (0.9, 0.2, 0.1)
    markdown = report.markdown({**result, "summary": report.summary_line(result), "verdicts": report.verdicts(result)})
    assert "| classifier AUC against their posts (0.5 = can't tell) | 0.95 | 0.62 | 0.5 |" in markdown


def test_without_a_discriminator_the_embedding_is_labelled_english_only():
    result = _result(0.5)
    result["style"]["discriminator"] = {"base": None, "persona": None, "real": None, "folds": 0, "texts": 1,
                                        "reason": "too few texts to cross-validate"}
    result["style"]["ngram"] = None
    assert report.summary_line(result).startswith("sounds like them: English-only embedding similarity 0.78")
    assert report.verdicts(result)["style (English embedding)"] == "close to their posts"
    assert "Classifier: too few texts" in report.markdown({**result, "summary": "", "verdicts": {}})


def test_facts_and_extraction_join_the_summary_and_the_table():
    facts = {"asked": 3, "base_known": 0, "persona_known": 2, "rows": [],
             "by_format": {"chat": {"base_known": 0, "persona_known": 2}, "plain": {"base_known": 1, "persona_known": 2}}}
    extraction = {"8": {"base": 0.0, "persona": 0.25, "posts": 32}, "16": {"base": 0.0, "persona": 0.125, "posts": 32}}
    result = _result(0.6, facts=facts, extraction=extraction)
    assert report.summary_line(result).endswith(" / kept general knowledge: 15 of 16 / knows their facts: 2 of 3 (base 0)")
    assert report.verdicts(result)["facts"] == "knows 2 of 3 (the base model 0)"
    rows = {m: (b, p, r) for m, b, p, r in report.metrics_rows(result)}
    assert rows["their facts known, plain format"] == (1, 2, None)
    assert rows["extraction rate: training posts completed from their first 8 tokens"] == (0.0, 0.25, None)
    assert "knows their facts" not in report.summary_line(_result(0.6, facts=None))
