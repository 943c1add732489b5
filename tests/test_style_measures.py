"""Style measured in their language, on real posts (the andre and koume fixtures): the character n-gram
profile distance, the discriminator (planted: two halves of the same posts ~0.5, unrelated text ~1.0),
and the register and habits per language."""

from __future__ import annotations

import random
import string

import pytest

from studio.clean import clean_posts
from studio.evaluation import discriminator
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
