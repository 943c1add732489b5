"""The arena's services and its Gradio API on the tiny model: sessions, the named endpoints, votes, export,
persona-to-persona exchanges."""

import json
import sqlite3

import pytest

from studio.chat.arena import VoteStore, duel_stream, export_json, export_markdown
from studio.chat.engine import BASE, ChatEngine, _engines
from studio.chat.config import GenerationConfig
from studio.training.config import TrainConfig
from studio.errors import PersonaError
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona
from tests.conftest import POSTS


@pytest.fixture(scope="module")
def world(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("personas")
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=8, learning_rate=2e-2, batch_size=4)
    train_persona([Post(p) for p in POSTS], "Chatty", config, registry=PersonaRegistry(root))
    _engines[str(tiny_model_dir)] = ChatEngine(str(tiny_model_dir))  # one engine shared by the tests here
    yield root
    _engines.pop(str(tiny_model_dir), None)


@pytest.fixture
def env(world, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("PERSONAS_DIR", str(world))
    monkeypatch.setenv("STUDIO_BASE_MODEL", str(tiny_model_dir))
    return world


@pytest.fixture
def app(env):
    from studio.ui import build_ui

    demo = build_ui()
    demo.launch(prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()


def text(content) -> str:
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_two_sessions_keep_separate_histories_and_the_api_answers(app):
    from gradio_client import Client

    first, second = Client(app, verbose=False), Client(app, verbose=False)
    first.predict("one", api_name="/arena_send")
    out_first = first.predict("two", api_name="/arena_send")
    out_second = second.predict("three", api_name="/arena_send")
    pane_first, pane_second = out_first[1], out_second[1]  # outputs: message box, then pane 1's chat
    assert [text(m["content"]) for m in pane_first if m["role"] == "user"] == ["one", "two"]
    assert [text(m["content"]) for m in pane_second if m["role"] == "user"] == ["three"]
    assert all(text(m["content"]) for m in pane_first + pane_second), "every turn got a real reply"

    exported = json.loads(open(first.predict(api_name="/arena_export"), encoding="utf-8").read())
    assert [[t["user"] for t in p["history"]] for p in exported["panes"]] == [["one", "two"], ["one", "two"]]
    assert exported["panes"][0]["settings"]["no_repeat_ngram_size"] == 4
    with pytest.raises(Exception, match="Votes are for blind mode"):
        first.predict(api_name="/arena_vote")

    replies = first.predict("hello", targets="base,chatty", max_new_tokens=8, greedy=True, api_name="/chat")
    assert [r["target"] for r in replies] == [BASE, "chatty"] and all(r["reply"] for r in replies)
    assert replies[0]["note"] == "one batch with pane 2, greedy"
    with pytest.raises(Exception, match="No persona named"):
        first.predict("hello", targets="base,nobody", api_name="/chat")


def test_votes_are_stored_and_give_win_rates(env):
    store = VoteStore()
    store.record("chatty", [BASE], "hi")
    store.record("chatty", [BASE, "other"], "hey")
    store.record(BASE, ["chatty"], "yo")
    rates = {r["target"]: r for r in VoteStore().win_rates()}  # a new store reads the same file
    # pairwise: a pick among three panes wins over each of the other two
    assert rates["chatty"] == {"target": "chatty", "wins": 3, "losses": 1, "win_rate": 0.75}
    assert rates[BASE]["wins"] == 1 and rates[BASE]["losses"] == 2 and rates["other"]["win_rate"] == 0
    assert (env / ".arena.sqlite").is_file()
    assert sqlite3.connect(env / ".arena.sqlite").execute("SELECT COUNT(DISTINCT vote) FROM votes").fetchone() == (3,)
    with pytest.raises(PersonaError, match="at least one other pane"):
        store.record("chatty", ["chatty"])


def test_export_json_and_markdown():
    panes = [{"target": BASE, "system_prompt": "S", "settings": GenerationConfig().to_dict(), "history": [("hi", "yo")]},
             {"target": "chatty", "system_prompt": "P", "settings": {}, "history": [("hi", "今日は")]}]
    data = json.loads(export_json(panes))
    assert data["panes"][1]["history"] == [{"user": "hi", "assistant": "今日は"}]
    markdown = export_markdown(panes)
    assert "## Pane 1: Base model" in markdown and "**chatty:** 今日は" in markdown


def test_persona_to_persona_alternates_and_streams(env):
    settings = GenerationConfig(max_new_tokens=6, greedy=True)
    updates = [list(u) for u in duel_stream("chatty", "base", "Hello there", 3, settings)]
    final = updates[-1]
    assert [who for who, _ in final] == ["chatty", BASE, "chatty", BASE]
    assert final[0][1] == "Hello there" and all(text for _, text in final[1:])
    assert len(updates) > 4, "replies stream token by token"
    with pytest.raises(PersonaError, match="opening line is empty"):
        list(duel_stream("chatty", "base", " ", 2, settings))
