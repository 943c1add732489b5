"""A persona's own facts: checked and stored with the persona (kept when it is retrained), edited from the
CLI and the Personas tab's editor, and asked by the evaluation in the chat and the plain formats."""

from __future__ import annotations

import json

import pytest

from studio.chat.engine import get_engine
from studio.chat.generate import prompt_ids
from studio.cli.main import main
from studio.errors import InputError
from studio.evaluation.facts import ask_facts, plain_prompt
from studio.persona import facts
from studio.persona.registry import Persona, PersonaRegistry
from tests.planted import memorising_adapter

HOBBIES = {"question": "趣味は？", "answers": ["アニメ", "ドライブ", "麻雀"]}


def test_facts_are_checked_with_clear_errors():
    assert facts.check_fact(" 趣味は？ ", "アニメ; ドライブ；麻雀;;") == HOBBIES
    assert facts.check_facts([{"question": "Pet?", "answers": ["cat", "cat"]}]) == [{"question": "Pet?", "answers": ["cat"]}]
    for bad, message in [
        ([{"question": "", "answers": ["x"]}], "needs a question"),
        ([{"question": "Pet?", "answers": []}], "has no answer"),
        ([{"question": "Pet?", "answers": " ; "}], "has no answer"),
        ([{"question": "Pet?", "answers": [3]}], "must be text"),
        ([{"question": "Q" * 400, "answers": ["x"]}], "keep it under 300"),
        ([{"question": "Pet?", "answers": ["x" * 300]}], "keep answers under 200"),
        ([{"question": "Pet?", "answers": ["cat"]}, {"question": "Pet?", "answers": ["dog"]}], "there twice"),
        ([{"question": f"Q{i}?", "answers": ["a"]} for i in range(201)], "too many"),
        ({"question": "Pet?"}, "must be a list"),
        (["Pet? cat"], "expected an object"),
    ]:
        with pytest.raises(InputError, match=message):
            facts.check_facts(bad)


def test_facts_files_jsonl_json_csv(tmp_path):
    (tmp_path / "f.jsonl").write_text(json.dumps(HOBBIES, ensure_ascii=False) + "\n\n"
                                      + json.dumps({"question": "Pet?", "answers": "cat; Mochi"}) + "\n", encoding="utf-8")
    (tmp_path / "f.json").write_text(json.dumps([HOBBIES], ensure_ascii=False), encoding="utf-8")
    (tmp_path / "f.csv").write_text("question,answers\n趣味は？,アニメ; ドライブ; 麻雀\n\"Pet, if any?\",cat\n", encoding="utf-8")
    assert facts.read_facts(tmp_path / "f.jsonl") == [HOBBIES, {"question": "Pet?", "answers": ["cat", "Mochi"]}]
    assert facts.read_facts(tmp_path / "f.json") == [HOBBIES]
    assert facts.read_facts(tmp_path / "f.csv") == [HOBBIES, {"question": "Pet, if any?", "answers": ["cat"]}]
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    (tmp_path / "one.csv").write_text("just a question\n")
    (tmp_path / "f.txt").write_text("x")
    for name, message in [("bad.jsonl", "not valid JSON"), ("one.csv", "expected two columns"), ("f.txt", "are .jsonl"),
                          ("missing.jsonl", "Cannot read")]:
        with pytest.raises(InputError, match=message):
            facts.read_facts(tmp_path / name)


def test_add_replace_remove_and_the_editor_table():
    kept = facts.add_fact([], "Pet?", "cat")
    kept = facts.add_fact(kept, "趣味は？", "アニメ; ドライブ; 麻雀")
    kept = facts.add_fact(kept, "Pet?", "cat; Mochi")  # the same question: its answers replaced
    assert kept == [HOBBIES, {"question": "Pet?", "answers": ["cat", "Mochi"]}]
    assert facts.remove_fact(kept, 1) == [{"question": "Pet?", "answers": ["cat", "Mochi"]}]
    with pytest.raises(InputError, match="no fact 3"):
        facts.remove_fact(kept, 3)
    rows = facts.table(kept) + [["", ""], [None, None]]
    assert rows[0] == ["趣味は？", "アニメ; ドライブ; 麻雀"] and facts.from_table(rows) == kept
    with pytest.raises(InputError, match="row 1: the question 'Pet' has no answer"):
        facts.from_table([["Pet", ""]])


def test_facts_stored_and_kept_when_retrained(tmp_path):
    registry = PersonaRegistry(tmp_path)
    with registry.create(Persona(name="Koume", slug="koume", system_prompt="v1")):
        pass
    registry.set_facts("koume", [HOBBIES])
    assert json.loads((tmp_path / "koume" / "persona.json").read_text("utf-8"))["facts"] == [HOBBIES]
    with registry.create(Persona(name="Koume", slug="koume", system_prompt="v2"), overwrite=True):
        pass
    assert registry.get("koume").facts == [HOBBIES] and registry.get("koume@v1").facts == [HOBBIES]
    with pytest.raises(InputError):
        registry.set_facts("koume", [{"question": "Pet?", "answers": []}])
    assert registry.get("koume").facts == [HOBBIES]  # a refused edit changes nothing


def test_facts_from_the_cli(capsys, tiny_persona, tmp_path):
    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    assert "has no facts yet" in run("facts", "tiny")[1]
    assert run("facts", "tiny", "--add", "趣味は？", "アニメ; ドライブ; 麻雀")[0] == 0
    code, out, _ = run("personas", "facts", "tiny", "--add", "Pet?", "cat")
    assert code == 0 and out.splitlines() == ["1. 趣味は？ -> アニメ; ドライブ; 麻雀", "2. Pet? -> cat"]
    assert run("facts", "tiny", "--remove", "2")[1].splitlines() == ["1. 趣味は？ -> アニメ; ドライブ; 麻雀"]
    (tmp_path / "f.csv").write_text("Pet?,cat; Mochi\n", encoding="utf-8")
    code, out, _ = run("facts", "tiny", "--file", tmp_path / "f.csv", "--json")
    assert json.loads(out) == [{"question": "Pet?", "answers": ["cat", "Mochi"]}]
    code, _, err = run("facts", "tiny", "--add", "Pet?", " ; ")
    assert code == 2 and "has no answer" in err
    assert PersonaRegistry().get("tiny").facts == [{"question": "Pet?", "answers": ["cat", "Mochi"]}]


def test_the_editor_saves_and_shows_the_facts(tiny_persona):
    from studio.ui import facts_editor

    frame = facts_editor.rows("tiny")
    assert list(frame.columns) == facts_editor.HEADERS and len(frame) == facts_editor.EMPTY_ROWS
    frame.iloc[0] = ["趣味は？", "アニメ; ドライブ; 麻雀"]
    message, shown = facts_editor.save("tiny", frame)
    assert "Saved 1 facts" in message and shown.values.tolist()[0] == ["趣味は？", "アニメ; ドライブ; 麻雀"]
    assert PersonaRegistry().get("tiny").facts == [HOBBIES]


@pytest.fixture(scope="module")
def knowing(tiny_model_dir):
    """(model, tokenizer, persona): an adapter that learnt one answer in the chat format only and another in the
    plain format only; the base model (adapter off) knows neither."""
    from transformers import AutoTokenizer

    from studio.chat_format import chat_messages

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    persona = Persona(name="Tiny", slug="tiny", system_prompt="You are Tiny.", facts=[
        {"question": "趣味は？", "answers": ["アニメ"]}, {"question": "Where do you live?", "answers": ["Osaka"]},
        {"question": "Pet?", "answers": ["Mochi"]}])
    answer = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]  # noqa: E731
    model = memorising_adapter(tiny_model_dir, [
        (prompt_ids(tokenizer, chat_messages(persona.system_prompt, "趣味は？")), answer("アニメとドライブ")),
        (prompt_ids(tokenizer, plain_prompt("Where do you live?")), answer(" Osaka, near the station.")),
    ])
    return model, tokenizer, persona


def test_facts_scored_in_both_formats(knowing):
    model, tokenizer, persona = knowing
    found = ask_facts(model, tokenizer, persona, model.active_adapter)
    rows = {(r["question"][:5], r["format"]): r for r in found["rows"]}
    assert len(found["rows"]) == 6 and found["asked"] == 3
    assert rows[("趣味は？", "chat")]["persona"].startswith("アニメとドライブ") and rows[("趣味は？", "chat")]["persona_correct"]
    assert rows[("Where", "plain")]["persona"].startswith("Osaka") and rows[("Where", "plain")]["persona_correct"]
    assert not rows[("Pet?", "chat")]["persona_correct"] and not rows[("Pet?", "plain")]["persona_correct"]
    assert not any(r["base_correct"] for r in found["rows"])
    assert found["by_format"] == {"chat": {"base_known": 0, "persona_known": rows[("Where", "chat")]["persona_correct"] + 1},
                                  "plain": {"base_known": 0, "persona_known": rows[("趣味は？", "plain")]["persona_correct"] + 1}}
    # known = right in both formats: each planted answer was learnt in one format only
    both = sum(rows[(q, "chat")]["persona_correct"] and rows[(q, "plain")]["persona_correct"] for q in ("趣味は？", "Where", "Pet?"))
    assert found["persona_known"] == both and found["base_known"] == 0


def test_plain_format_has_no_chat_template(tiny_persona):
    tokenizer = get_engine(tiny_persona.base_model.get("spec")).tokenizer
    plain = tokenizer.decode(prompt_ids(tokenizer, plain_prompt("趣味は？")))
    assert plain == "Question: 趣味は？\nAnswer:" and "<|im_start|>" not in plain
    assert plain_prompt("Pet?", ["My cat Mochi"]).startswith("Things you have written:\n- My cat Mochi\n\nQuestion: Pet?")


def test_no_facts_gives_none(tiny_persona):
    with get_engine(tiny_persona.base_model.get("spec")).exclusive(tiny_persona) as (model, tokenizer, adapter):
        assert ask_facts(model, tokenizer, tiny_persona, adapter) is None
