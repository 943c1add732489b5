"""Chat-time memory: BM25 over character n-grams of the persona's cleaned posts returns the planted relevant
post, in Japanese and in English; the index is built once per persona version; a pane's setting puts the
posts into the system prompt only when it is on."""

from __future__ import annotations

import json

import pytest

from studio.chat import memory
from studio.chat.config import GenerationConfig
from studio.chat.engine import Row
from studio.errors import ConfigError
from studio.persona.registry import Persona

DISTRACTORS = [
    "Coffee first, then code. Always in that order.", "Shipped a tiny fix today and it felt great.",
    "Rainy Sunday, perfect for reading about parsers.", "Why does every build break on a Friday?",
    "New blog post soon: small tools that do one thing well.", "Trying a new keyboard layout. Send help.",
    "今日はいい天気ですね。散歩に行きます。", "チクショー！！", "電車が遅れて会社に遅刻した。", "明日は早起きして走る予定。",
    "新しいキーボードを買った。打ちやすい。", "週末は部屋の掃除をしていた。",
]
RAMEN = "駅前の新しいラーメン屋、豚骨スープが濃くて最高だった"
MOCHI = "My cat Mochi knocked the plant off the shelf again this morning"


def _persona(tmp_path, posts) -> Persona:
    folder = tmp_path / "p"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in posts),
                                                 encoding="utf-8")
    return Persona(name="P", slug="p", system_prompt="You are P.", path=folder)


def test_char_ngrams_need_no_word_segmenter():
    assert memory.char_ngrams("ラーメン屋") == ["ラー", "ーメ", "メン", "ン屋", "ラーメ", "ーメン", "メン屋"]
    assert set(memory.char_ngrams("Hi,  YOU")) >= {"hi", "yo", "ou", "you"}
    assert memory.char_ngrams("！！ ...") == []  # punctuation alone matches nothing


@pytest.mark.parametrize("message, planted", [("ラーメン食べた？おすすめの店ある？", RAMEN), ("豚骨スープは好き？", RAMEN),
                                             ("What is your cat called?", MOCHI), ("any news about mochi?", MOCHI)])
def test_retrieval_returns_the_planted_post(message, planted):
    found = memory.PostMemory(DISTRACTORS[:6] + [MOCHI] + DISTRACTORS[6:] + [RAMEN]).search(message, 3)
    assert found[0] == planted


def test_no_match_and_small_corpora():
    index = memory.PostMemory([RAMEN])
    assert index.search("zzz", 3) == [] and index.search("ラーメン", 5) == [RAMEN]
    assert memory.PostMemory([]).search("ラーメン", 3) == []


def test_index_built_once_per_version(tmp_path):
    persona = _persona(tmp_path, DISTRACTORS + [RAMEN])
    first = memory.memory_for(persona)
    assert memory.memory_for(persona) is first
    (persona.path / "data" / "train.jsonl").write_text(json.dumps({"text": MOCHI}) + "\n", encoding="utf-8")  # retrained
    assert memory.memory_for(persona) is not first and memory.memory_for(persona).posts == [MOCHI]
    assert memory.memory_for(Persona(name="Q", slug="q", path=tmp_path / "none")) is None


def test_pane_setting_puts_their_posts_into_the_system_prompt(tmp_path):
    persona = _persona(tmp_path, DISTRACTORS + [RAMEN, MOCHI])
    off = Row.make(persona, "ラーメン好き？", settings=GenerationConfig())
    assert off.messages[0]["content"] == "You are P."
    on = Row.make(persona, "ラーメン好き？", settings=GenerationConfig(memory=True, memory_k=2))
    system = on.messages[0]["content"]
    assert system.startswith("You are P.\n\nThings you have written:\n- " + RAMEN) and system.count("\n- ") <= 2
    base = Row.make(None, "ラーメン好き？", settings=GenerationConfig(memory=True))  # the base model has no posts
    assert "Things you have written" not in base.messages[0]["content"]
    with pytest.raises(ConfigError, match="memory_k"):
        GenerationConfig(memory=True, memory_k=99)
    assert GenerationConfig(memory="true").memory is True


def test_chat_panes_read_the_memory_setting():
    from studio.ui.chat_panes import MAX_PANES, PANE_FIELDS, read_panes

    values = []
    for i in range(MAX_PANES):
        pane = {"target": "base", "system_prompt": "", "temperature": 0.8, "top_p": 0.9, "top_k": 50, "repetition_penalty": 1.15,
                "no_repeat_ngram_size": 4, "max_new_tokens": 8, "seed": -1, "greedy": False, "memory": i == 1, "memory_k": 2}
        values += [pane[f] for f in PANE_FIELDS]
    setups = read_panes(values)
    assert [s.settings.memory for s in setups] == [False, True, False, False] and setups[1].settings.memory_k == 2
