"""The knowledge probe's file (shape, fair answers, the quick subset) and its disjointness from the
replay/KL prompts training sees (studio/training/replay.json): retention is measured on what training never saw."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from studio.evaluation import probe

ROOT = Path(__file__).resolve().parent.parent
REPLAY_FILE = ROOT / "studio" / "training" / "replay.json"
LATIN = re.compile(r"[a-z0-9 .\-]+")


def test_probe_file_shape():
    data = json.loads(probe.PROBE_FILE.read_text(encoding="utf-8"))
    asked = data["questions"]
    assert len(asked) >= 100 and len({q["id"] for q in asked}) == len(asked)
    for q in asked:
        assert set(q) == {"id", "lang", "topic", "question", "answers", "quick"}, q["id"]
        assert q["lang"] in ("en", "ja") and q["topic"] and q["question"].strip() and isinstance(q["quick"], bool)
        assert q["answers"] and all(a == a.strip() and a for a in q["answers"]), q["id"]
    langs = Counter(q["lang"] for q in asked)
    assert langs["en"] >= 60 and langs["ja"] >= 30
    assert len({q["topic"] for q in asked}) >= 10
    assert len({probe.fold(q["question"]) for q in asked}) == len(asked)


def test_answers_are_too_long_to_match_by_chance():
    """Latin answers are digits or 3+ letters (a one- or two-letter word such as 'a' or 'no' is in any reply),
    and no answer is already in its question (an echo is not knowledge)."""
    for q in probe.questions():
        for answer in q["answers"]:
            folded = probe.fold(answer)
            if LATIN.fullmatch(folded):
                assert folded.isdigit() or len(folded) >= 3, (q["id"], answer)
            assert not probe.is_correct(q["question"], [answer]), (q["id"], answer)


def test_one_kanji_answers_stand_apart():
    assert probe.is_correct("青です。", ["青"]) and probe.is_correct("100円です", ["円"])
    assert not probe.is_correct("青森に行きます", ["青"]) and not probe.is_correct("円高です", ["円"])


def test_quick_subset_is_small_and_in_both_languages():
    quick = probe.questions(quick=True)
    langs = Counter(q["lang"] for q in quick)
    assert 16 <= len(quick) <= 20 and langs["en"] >= 8 and langs["ja"] >= 6


def _replay_prompts() -> list[dict]:
    if not REPLAY_FILE.exists():
        pytest.skip(f"{REPLAY_FILE} is not here (it comes with the replay training)")
    data = json.loads(REPLAY_FILE.read_text(encoding="utf-8"))
    return data["prompts"] if isinstance(data, dict) else data


def test_replay_prompts_never_ask_a_probe_question():
    questions = [probe.fold(q["question"]) for q in probe.questions()]
    for prompt in _replay_prompts():
        text = probe.fold(prompt["prompt"])
        assert not any(question in text or text in question for question in questions), prompt["id"]


def test_replay_and_probe_topics_are_disjoint():
    replay_topics = {p["topic"] for p in _replay_prompts()}
    probe_topics = {q["topic"] for q in probe.questions()}
    assert replay_topics and not replay_topics & probe_topics


def test_no_probe_answer_appears_in_a_replay_prompt():
    """Answers of 3+ characters: as a whole word in a Latin prompt, anywhere in Japanese."""
    answers = {probe.fold(a) for q in probe.questions() for a in q["answers"] if len(a) >= 3}
    found = []
    for prompt in _replay_prompts():
        text = probe.fold(prompt["prompt"])
        for answer in answers:
            if LATIN.fullmatch(answer):
                if re.search(rf"(?<![a-z0-9]){re.escape(answer)}(?![a-z0-9])", text):
                    found.append((prompt["id"], answer))
            elif answer in text:
                found.append((prompt["id"], answer))
    assert not found
