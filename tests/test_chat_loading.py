"""A first message on a fresh app: it shows in every pane at once, with "loading model…" while the engine loads
(on the tiny model, a real load and real tokens), then the replies stream and each pane's note says how it ran."""

import pytest

from studio.chat.engine import _engines, engine_loaded
from studio.chat.config import GenerationConfig
from studio.ui import chat_tab
from studio.ui.chat_panes import MAX_PANES, SETTINGS, new_state


def pane_values(target: str = "base") -> list:
    d = GenerationConfig(max_new_tokens=8, greedy=True)
    return [target, "", *(-1 if name == "seed" else getattr(d, name) for name in SETTINGS)]


def text(content) -> str:
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


@pytest.fixture
def fresh(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONAS_DIR", str(tmp_path / "personas"))
    monkeypatch.setenv("STUDIO_BASE_MODEL", str(tiny_model_dir))
    _engines.pop(str(tiny_model_dir), None)
    yield
    _engines.pop(str(tiny_model_dir), None)


def test_first_message_shows_at_once_with_loading_then_streams(fresh):
    values = [v for _ in range(MAX_PANES) for v in pane_values()]
    outputs = chat_tab.send("How was your day?", 2, new_state(), *values)
    box, state, *rest = next(outputs)
    chats, notes = rest[:MAX_PANES], rest[MAX_PANES:]
    assert not engine_loaded(), "the first yield comes before the model load"
    assert box == ""
    for pane in (0, 1):
        assert [text(m["content"]) for m in chats[pane] if m["role"] == "user"] == ["How was your day?"]
        assert notes[pane] == chat_tab.LOADING
    assert chats[2] == [] and chats[3] == []
    seen = [notes]
    for box, state, *rest in outputs:
        seen.append(rest[MAX_PANES:])
    assert engine_loaded()
    assert any(n[0] == chat_tab.WRITING for n in seen[1:-1]), "writing… while the tokens stream"
    assert seen[-1][0].startswith("one batch with pane 2") and seen[-1][1].startswith("one batch with pane 1")
    replies = [state["histories"][pane][-1][1] for pane in (0, 1)]
    assert all(replies), replies

    again = chat_tab.send("And now?", 2, state, *values)  # loaded: no loading note any more
    _, _, *rest = next(again)
    assert rest[MAX_PANES] == chat_tab.WRITING
    for _ in again:
        pass


def test_an_unknown_persona_fails_before_the_message_is_shown(fresh):
    import gradio as gr

    values = [v for target in ("base", "nobody", "base", "base") for v in pane_values(target)]
    state = new_state()
    with pytest.raises(gr.Error, match="No persona named 'nobody'"):
        next(chat_tab.send("Hello", 2, state, *values))
    assert state["histories"][0] == [] and not engine_loaded()
