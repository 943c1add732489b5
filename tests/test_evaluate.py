"""Persona evaluation: planted cases for the style statistics, the copy detector and the knowledge probe,
and whole evaluations of a persona trained on the tiny model (and, marked integration, the bundled one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from studio.evaluation.config import EvalConfig
from studio.training.config import TrainConfig
from studio.errors import PersonaError
from studio.evaluation.prompts import POOLS, asked_in, choose_prompts, language_shares
from studio.evaluation.run import evaluate_persona
from studio.evaluation import memorisation, probe, style
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona

ROOT = Path(__file__).resolve().parent.parent
TRAINING = [
    "Coffee first, then code. Always in that order.",
    "Shipped a tiny fix today and it felt great.",
    "Rainy Sunday, perfect for reading about parsers.",
    "Why does every build break on a Friday?",
    "駅前の新しいラーメン屋、思ったより美味しかったチクショー！！",
    "今日はいい天気ですね。散歩に行きます。",
] + [f"Note {i}: the {w} river runs past the old mill" for i, w in enumerate("red green blue grey gold".split())]


# --- style statistics, hand-computed -------------------------------------------------------------

def test_style_stats_match_hand_computed_values():
    texts = ["Hello world! #tag 😀", "今日はいい天気ですね。散歩に行きます。", "チクショー！！", "Why?"]
    stats = style.text_stats(texts)
    # lengths after NFKC: 19, 19, 7 ("チクショー!!"), 4
    assert stats["texts"] == 4 and stats["mean_chars"] == round((19 + 19 + 7 + 4) / 4, 1)
    assert stats["median_chars"] == 13.0
    assert stats["share_with_emoji"] == 0.25 and stats["emoji_per_text"] == 0.25
    assert stats["exclamations_per_text"] == 0.75  # "!" once, "！！" twice
    assert stats["questions_per_text"] == 0.25 and stats["hashtags_per_text"] == 0.25
    assert stats["share_japanese"] == 0.5
    # ですね and 行きます are polite, チクショー is plain: 2 of 3 sentences
    assert stats["ja_sentences"] == 3 and stats["ja_polite_share"] == 0.667


@pytest.mark.parametrize("text, expected", [
    ("今日はいい天気ですね。散歩に行きます。", (2, 0)),
    ("ありがとうございました！明日も行くよ〜。そうですか？", (2, 1)),
    ("チクショー！！", (0, 1)),
    ("草生えるwww", (0, 1)),
    ("疲れたけど楽しかった😊 また来週行きましょうね！", (1, 1)),
    ("Hello there. Nice day!", (0, 0)),
])
def test_japanese_sentence_endings(text, expected):
    assert style.japanese_endings(text) == expected


def test_length_bands_and_characteristic_words():
    bands = style.length_histogram(["a" * 5, "b" * 25, "c" * 30, "d" * 300])
    assert bands["0-19"] == 0.25 and bands["20-39"] == 0.5 and bands["280+"] == 0.25 and sum(bands.values()) == 1.0
    words = style.characteristic_words({"real": ["ramen ramen tonight", "ramen again"], "base": ["weather weather nice"]})
    assert words["real"] == ["ramen"] and words["base"] == ["weather"]


# --- memorisation, planted copies ------------------------------------------------------------------

@pytest.fixture(scope="module")
def detector():
    return memorisation.CopyDetector(TRAINING)


@pytest.mark.parametrize("reply, reason", [
    ("Coffee first, then code. Always in that order.", "verbatim"),
    ("Why does every build break on a Friday? Shipped a tiny fix today and it felt great.", "verbatim"),
    ("coffee first, then code!! always in this order :)", "near-duplicate"),
    ("Shipped a small fix today, it felt great.", "near-duplicate"),
    ("駅前の新しいラーメン屋、思ったより美味しかった！", "verbatim"),
])
def test_copies_are_flagged_with_their_training_post(detector, reply, reason):
    check = detector.check(reply)
    assert check["copied"] and reason in check["reasons"], check
    assert check["nearest"] in TRAINING


@pytest.mark.parametrize("reply", [
    "I never start programming before my morning cup of coffee.",  # paraphrase
    "近所の店で食べたラーメンがうまかった。",  # paraphrase
    "The weather in Lisbon is lovely in spring.",  # unrelated
    "Coffee first,",  # a piece of a post, but shorter than MIN_CHARS: never counted
])
def test_paraphrases_and_unrelated_replies_pass(detector, reply):
    check = detector.check(reply)
    assert not check["copied"], check
    assert check["nearest"] in TRAINING and 0 <= check["jaccard"] <= 1 and 0 <= check["overlap"] <= 1


def test_copy_rate():
    assert memorisation.copy_rate([{"copied": True}, {"copied": False}, {"copied": False}, {"copied": False}]) == 0.25
    assert memorisation.copy_rate([]) is None


# --- knowledge probe, planted answer sheets --------------------------------------------------------

def test_probe_scores_a_planted_answer_sheet_in_both_languages():
    asked = probe.questions()
    assert len(asked) >= 30 and {q["lang"] for q in asked} == {"en", "ja"} and len({q["id"] for q in asked}) == len(asked)
    right = {q["id"] for i, q in enumerate(asked) if i % 3 != 0}  # every third answered wrongly
    sheet = [(f"The answer is {q['answers'][0]}." if q["lang"] == "en" else f"答えは{q['answers'][0]}です。")
             if q["id"] in right else ("I have no idea." if q["lang"] == "en" else "わかりません。") for q in asked]
    assert probe.score(sheet, asked) == [q["id"] in right for q in asked]
    for lang in ("en", "ja"):
        part = [(s, q) for s, q in zip(sheet, asked) if q["lang"] == lang]
        assert sum(probe.score([s for s, _ in part], [q for _, q in part])) == sum(q["id"] in right for _, q in part)


@pytest.mark.parametrize("reply, answers, expected", [
    ("It's TOKYO, of course!", ["tokyo"], True),
    ("ＴＯＫＹＯ", ["tokyo"], True),  # full-width letters fold
    ("There are 17 of them.", ["7", "seven"], False),  # whole words only
    ("Seven days.", ["7", "seven"], True),
    ("日本の首都は東京です。", ["東京"], True),
    ("一週間は7日です", ["7", "七"], True),
    ("一週間は17日です", ["7", "七"], False),
    ("京都です。", ["東京"], False),
])
def test_answer_matching(reply, answers, expected):
    assert probe.is_correct(reply, answers) is expected


def test_probe_summary_counts_kept_and_lost():
    rows = [{"id": "a", "lang": "en", "base_correct": True, "persona_correct": True},
            {"id": "b", "lang": "en", "base_correct": True, "persona_correct": False},
            {"id": "c", "lang": "ja", "base_correct": False, "persona_correct": True},
            {"id": "d", "lang": "ja", "base_correct": True, "persona_correct": True}]
    result = probe.summarise(rows)
    assert (result["known"], result["kept"], result["lost"], result["gained"]) == (3, 2, ["b"], ["c"])
    assert result["base_accuracy"] == 0.75 and result["persona_accuracy"] == 0.75
    assert result["by_language"]["ja"] == {"questions": 2, "base_correct": 1, "persona_correct": 2}


def test_prompts_are_seeded_and_bilingual():
    chosen = choose_prompts(8, seed=3)
    assert chosen == choose_prompts(8, seed=3) and chosen != choose_prompts(8, seed=4)
    assert [lang for lang, _ in chosen] == ["en"] * 4 + ["ja"] * 4


def test_prompts_are_asked_in_the_posts_languages():
    english = [{"text": "Shipped it.", "lang": "en"}] * 30 + [{"text": "Feierabend!", "lang": "de"}]
    shares = language_shares(english)
    assert [lang for lang, _ in choose_prompts(16, 0, shares)] == ["en"] * 16  # 1/31 German earns no prompt
    mixed = [{"text": "今日も寝坊した"}] * 3 + [{"text": "Coffee first."}] + [{"text": "Bom dia!", "lang": "pt"}] * 4
    shares = language_shares(mixed)
    chosen = choose_prompts(16, 0, shares)
    assert Counter(lang for lang, _ in chosen) == {"en": 10, "ja": 6}  # Portuguese has no pool: asked in English
    assert asked_in(shares, chosen)["asked_in_english"] == ["pt"]
    assert all(any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text) for lang, text in chosen if lang == "ja")
    german = choose_prompts(12, 1, {"de": 1.0})
    assert len({text for _, text in german}) == 12 and all(text in POOLS["de"] for _, text in german)
    assert all(len(set(pool)) == len(pool) >= 12 for pool in POOLS.values())


# --- whole evaluations on the tiny model -----------------------------------------------------------

POSTS = TRAINING + [f"Post {i}: coffee and code again, day {i}." for i in range(14)] + \
    [f"今日も{i}杯目のコーヒー。コード書くぞ！" for i in range(10)]


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    """A tiny persona trained with probe_steps and the evaluation after training on."""
    registry = PersonaRegistry(tmp_path_factory.mktemp("eval-personas"))
    events = []
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=4, batch_size=4, max_length=96, eval_steps=0,
                         evaluate=True, probe_steps=2)
    result = train_persona([Post(text=t) for t in POSTS], "Evaluated", config, registry=registry, progress=events.append)
    return registry, result, events


def _figures(result: dict) -> dict:
    return {k: result[k] for k in ("loss", "style", "memorisation", "knowledge", "samples", "summary")}


def test_training_ends_with_a_stored_evaluation_and_probe_events(trained):
    registry, result, events = trained
    probes = [e for e in events if e["event"] == "probe"]
    assert [e["step"] for e in probes] == [0, 2, 4] and all(0 <= e["accuracy"] <= 1 for e in probes)
    stages = [e["stage"] for e in events if e["event"] == "evaluate"]
    assert stages == ["loss", "replies", "probe", "facts", "extraction", "style", "memorisation", "done"]
    evaluation = registry.get("evaluated").extra["evaluation"]
    assert evaluation == result.persona.extra["evaluation"]
    assert evaluation["summary"].startswith("sounds like them: ") and "copies them: " in evaluation["summary"]
    assert evaluation["markdown"].startswith("## Evaluation") and evaluation["summary"] in evaluation["markdown"]
    loss = evaluation["loss"]
    assert loss["base"]["posts"] == loss["persona"]["posts"] > 0
    for side in ("base", "persona"):
        assert 0 < loss[side]["loss"] < 20 and loss[side]["perplexity"] >= 1
    sim = evaluation["style"]["similarity"]
    assert all(-1 <= sim[k] <= 1 for k in ("base", "persona", "real"))
    memo = evaluation["memorisation"]
    assert memo["replies"] == EvalConfig().prompts and 0 <= memo["copy_rate"] <= 1
    knowledge = evaluation["knowledge"]
    assert knowledge["questions"] == len(probe.questions()) and 0 <= knowledge["kept"] <= knowledge["known"]
    assert all(s["persona"] and s["nearest"] in POSTS for s in evaluation["samples"])
    json.dumps(evaluation)  # JSON-able as stored


def test_evaluation_is_deterministic_for_a_seed(trained, tiny_model_dir, monkeypatch):
    registry, _, _ = trained
    monkeypatch.setenv("STUDIO_BASE_MODEL", str(tiny_model_dir))
    config = EvalConfig(prompts=6, max_new_tokens=16, seed=7)
    first = evaluate_persona("evaluated", config, registry)  # through the shared chat engine this time
    second = evaluate_persona("evaluated", config, registry)
    assert _figures(first) == _figures(second)
    other = evaluate_persona("evaluated", EvalConfig(prompts=6, max_new_tokens=16, seed=8), registry)
    assert [s["persona"] for s in other["samples"]] != [s["persona"] for s in first["samples"]]
    assert registry.get("evaluated").extra["evaluation"]["config"]["seed"] == 8  # the newest is stored


def test_cli_eval_prints_and_stores_json(trained):
    registry, _, _ = trained
    env = {**os.environ, "PERSONAS_DIR": str(registry.root), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "studio", "eval", "evaluated", "--prompts", "4", "--max-new-tokens", "8",
                           "--no-probe", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["memorisation"]["replies"] == 4 and result["knowledge"] is None and "copies them" in result["summary"]
    missing = subprocess.run([sys.executable, "-m", "studio", "eval", "nobody"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode == 2 and "No persona named 'nobody'" in missing.stderr and "Traceback" not in missing.stderr


def test_unknown_persona_and_bad_settings_are_clear(tmp_path):
    with pytest.raises(PersonaError, match="No persona named 'ghost'"):
        evaluate_persona("ghost", registry=PersonaRegistry(tmp_path))
    with pytest.raises(Exception, match="prompts must be between 2 and 200"):
        EvalConfig(prompts=1)


@pytest.mark.integration
def test_evaluation_of_a_persona_trained_on_the_bundled_model(tmp_path):
    from tests.conftest import KOUME_CSV

    from studio.ingest import load_file

    if not KOUME_CSV.exists():
        pytest.skip(f"{KOUME_CSV} is not here")
    registry = PersonaRegistry(tmp_path / "personas")
    config = TrainConfig(base_model="bundled", max_steps=3, batch_size=4, max_length=96, eval_steps=0, evaluate=False)
    train_persona(load_file(KOUME_CSV)[:300], "koume", config, system_prompt="あなたはコウメ太夫です。常体で短く答えます。",
                  registry=registry)
    # every stage on the real model, the probe whole; the samples smaller than the defaults (CI time: 231 s at defaults)
    evaluate_persona("koume", EvalConfig(prompts=4, loss_posts=32, extraction_posts=8, reference_posts=50), registry=registry)
    evaluation = registry.get("koume").extra["evaluation"]
    print(f"\n{evaluation['summary']}\n{evaluation['timings']}")
    assert evaluation["knowledge"]["base_correct"] >= 10  # the probe is answerable by the bundled model
    assert evaluation["loss"]["persona"]["loss"] < evaluation["loss"]["base"]["loss"]  # 3 steps already help
    assert evaluation["seconds"] > 0 and evaluation["timings"]  # how long it takes is measured in bench/, not here


def test_held_out_loss_matches_the_model_loss_one_post_at_a_time(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.chat_format import build_examples, pad_batch
    from studio.evaluation.generate import held_out_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    texts = ["Coffee first, then code.", "今日はいい天気ですね。散歩に行きます。", "short", "A longer post about parsers " * 4]
    batched = held_out_loss(model, tokenizer, texts, "You are x.", None, max_length=128, batch_size=3)
    total = count = 0
    with torch.no_grad():
        for example in build_examples([Post(text=t) for t in texts], tokenizer, "You are x.", 128, 0):
            batch = pad_batch([example], tokenizer.pad_token_id)
            n = int((batch["labels"][:, 1:] != -100).sum())
            total, count = total + float(model(**batch).loss) * n, count + n
    assert batched["tokens"] == count and batched["loss"] == pytest.approx(total / count, abs=1e-3)
