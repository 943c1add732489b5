"""Does the base model fit their language? (studio.evaluation.fit): the figures on the tiny model, the probe
part cached, and the plain-words message on planted figures."""

from __future__ import annotations

import json

import pytest

from studio.config import cache_dir
from studio.evaluation import fit, probe
from studio.ingest import Post
from tests.test_cli import studio

ENGLISH = ["Shipped a small fix to the parser today.", "Coffee first, then code. Always in that order.",
           "Rainy Sunday, perfect for reading about compilers.", "Why does every build break on a Friday?",
           "New blog post soon: small tools that do one thing well.", "Trying a new keyboard layout. Send help.",
           "The train was late again, so I wrote tests on my phone.", "Finally moved my notes into plain text files.",
           "Spent the evening fixing flaky browser tests.", "Hot take: tabs in YAML should be a hard error.",
           "My cat walked over the keyboard and fixed a bug.", "Giving a talk about web components next month."]
JAPANESE = ["今日はいい天気ですね。散歩に行きます。", "チクショー！また寝坊してしまった。", "新しいカフェでケーキを食べました。",
            "電車が遅れて会議に間に合わなかった。", "週末は家で映画を三本見ました。", "夜中にラーメンが食べたくなる。",
            "雨の日は本を読むのが好きです。", "友達とカラオケで五時間歌った。", "明日から新しい仕事が始まります。",
            "猫が膝の上で寝ていて動けない。"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(tiny_model_dir)


def test_language_of_posts():
    assert fit.language_of("今日はいい天気ですね。") == "ja"
    assert fit.language_of("Coffee first, then code.") == "en"
    assert fit.language_of("Guten Morgen zusammen", "de") == "de"
    assert fit.language_of("lol", "und") == "en"  # X's 'undetermined' tag names no language


def test_figures_per_language_on_the_tiny_model(tiny):
    model, tokenizer = tiny
    posts = [Post(text=t) for t in ENGLISH + JAPANESE] + [Post(text="Bonjour à tous", lang="fr")]
    result = fit.language_fit(model, tokenizer, posts, base_name="tiny-llama", base_key="tiny-test")
    assert result["posts"] == 23 and set(result["languages"]) == {"en", "ja", "fr"}
    en, ja, fr = (result["languages"][k] for k in ("en", "ja", "fr"))
    assert en["posts"] == 12 and ja["posts"] == 10 and not fr["judged"] and fr["fits"] is None  # one post: not judged
    counts = {lang: sum(q["lang"] == lang for q in probe.questions()) for lang in ("en", "ja")}
    for lang, figures in (("en", en), ("ja", ja)):
        assert figures["sampled"] == min(fit.SAMPLE_POSTS, figures["posts"])
        assert figures["loss_per_char"] > 0 and figures["loss_per_token"] > 0 and figures["tokens_per_char"] > 0
        assert figures["probe"]["questions"] == counts[lang] and 0 <= figures["probe"]["correct"] <= counts[lang]
    # A random tiny model knows nothing and scores ~10 nats per token: it fits neither language, and says so.
    assert en["fits"] is False and ja["fits"] is False and result["fits"] is False
    assert "tiny-llama knows little English" in result["message"] and "Japanese" in result["message"]
    # The probe part is cached per base model, language and probe version; the same figures come back.
    cached = sorted(p.name for p in (cache_dir() / "language-fit").glob("tiny-test-*.json"))
    assert len(cached) == 2 and cached[0].startswith("tiny-test-en-probe-")
    again = fit.language_fit(model, tokenizer, posts, base_name="tiny-llama", base_key="tiny-test")
    assert again["languages"]["ja"]["probe"] == ja["probe"] and again["languages"]["en"]["loss_per_char"] == en["loss_per_char"]


def _figures(correct: int, questions: int, loss: float, posts: int = 500) -> dict:
    return {"posts": posts, "share": 1.0, "judged": True, "loss_per_char": loss,
            "probe": {"questions": questions, "correct": correct, "accuracy": correct / questions}}


def test_message_on_planted_figures():
    koume = {"ja": _figures(1, 30, 5.6)}  # the bundled model on koume's Japanese
    andre = {"en": _figures(64, 79, 1.6)}  # and on andre's English
    for languages in (koume, andre):
        for lang, figures in languages.items():
            figures["fits"] = fit.judge(lang, figures)
    assert koume["ja"]["fits"] is False and andre["en"]["fits"] is True
    message = fit.fit_message("SmolLM2-135M-Instruct", koume)
    assert message == ("SmolLM2-135M-Instruct knows little Japanese (probe 1 of 30, 5.6 nats per character): expect word "
                       "salad in Japanese; a multilingual base such as Qwen2.5 (on a GPU) fits.")
    assert fit.fit_message("SmolLM2-135M-Instruct", andre) == \
        "SmolLM2-135M-Instruct fits these posts: English (probe 64 of 79, 1.6 nats per character)."
    both = fit.fit_message("M", {**koume, **andre})
    assert both.startswith("M knows little Japanese") and "M fits the rest: English" in both


@pytest.mark.parametrize("lang, correct, loss, fits", [
    ("ja", 20, 2.5, True),  # a base that writes Japanese
    ("ja", 20, fit.POOR_LOSS_PER_CHAR_CJK + 0.5, False),  # knows the answers, cannot write their posts
    ("en", 5, 1.2, False),  # writes fluently, knows nothing: the probe decides
    ("en", 60, fit.POOR_LOSS_PER_CHAR + 0.1, False),
    ("en", 60, fit.POOR_LOSS_PER_CHAR - 0.1, True),
])
def test_thresholds(lang, correct, loss, fits):
    assert fit.judge(lang, _figures(correct, 30 if lang == "ja" else 79, loss)) is fits


def test_a_language_without_probe_questions_is_judged_by_its_loss():
    assert fit.judge("de", {"judged": True, "probe": None, "loss_per_char": 1.5}) is True
    assert fit.judge("de", {"judged": True, "probe": None, "loss_per_char": 2.9}) is False
    assert "knows little German" in fit.fit_message("M", {"de": {"judged": True, "probe": None, "loss_per_char": 2.9, "fits": False}})
    assert fit.fit_message("M", {"en": {"judged": False, "fits": None}}) == "Too few posts to tell whether M fits their language."


def test_cli_fit_prints_the_figures(tiny_model_dir, tmp_path):
    posts = tmp_path / "posts.txt"
    posts.write_text("\n".join(ENGLISH + JAPANESE) + "\n", encoding="utf-8")
    result = studio("fit", "--posts", posts, "--base", tiny_model_dir, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["languages"]) == {"en", "ja"} and "knows little" in report["message"]
    line = studio("fit", "--posts", posts, "--base", tiny_model_dir)
    assert line.returncode == 0 and line.stdout.startswith("language fit: ")
