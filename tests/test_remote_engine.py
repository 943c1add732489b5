"""The Chat tab's engine setting: 'local' or an OpenAI-compatible server's URL (studio.chat.remote). The replies
through a real vLLM server are tests/test_serve.py; here, what needs no server: the setting, the requests, and a
server that is not there (a real closed port), in the API and in the browser."""

from __future__ import annotations

import pytest

from studio.chat.arena import Pane, arena_stream
from studio.chat.config import GenerationConfig
from studio.chat.engine import Row
from studio.chat.remote import LOCAL, engine_setting, request_body, unhonoured
from studio.errors import ConfigError, ModelError
from tests.test_browser import CHROMIUM, MODEL_WAIT, ROOT, UI_WAIT, free_port, served_app


def test_engine_setting_defaults_to_the_env_var_and_checks_urls(monkeypatch):
    monkeypatch.delenv("STUDIO_CHAT_ENGINE", raising=False)
    assert engine_setting() == engine_setting("") == engine_setting(" Local ") == LOCAL
    monkeypatch.setenv("STUDIO_CHAT_ENGINE", "http://127.0.0.1:8000/")
    assert engine_setting() == "http://127.0.0.1:8000/v1"
    assert engine_setting("local") == LOCAL  # the tab's value wins over the env var
    assert engine_setting("https://h.example/v1/") == "https://h.example/v1"
    with pytest.raises(ConfigError, match="'local' or an OpenAI-compatible server's URL"):
        engine_setting("127.0.0.1:8000")


def test_requests_carry_each_panes_settings():
    greedy = Row(None, [{"role": "user", "content": "hi"}], GenerationConfig(greedy=True, max_new_tokens=5), seed=3)
    body = request_body("base", greedy)
    assert body["temperature"] == 0.0 and "seed" not in body and body["max_tokens"] == 5 and body["stream"]
    sampled = Row(None, greedy.messages, GenerationConfig(temperature=0.7, top_k=0, repetition_penalty=1.3), seed=9)
    body = request_body("ann@v1", sampled)
    assert (body["model"], body["temperature"], body["seed"], body["repetition_penalty"]) == ("ann@v1", 0.7, 9, 1.3)
    assert "top_k" not in body  # 0: no limit
    assert unhonoured(GenerationConfig()) == ["no-repeat n-gram size 4"] and unhonoured(GenerationConfig(no_repeat_ngram_size=0)) == []


def test_a_server_that_is_not_there_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with pytest.raises(ModelError, match=r"does not answer .*python -m studio serve.*'local'"):
        list(arena_stream("hello", [Pane("base"), Pane("base")], engine=url))


@pytest.mark.browser
def test_browser_engine_setting_in_the_chat_tab(tmp_path, tiny_model_dir):
    """The engine box shows $STUDIO_CHAT_ENGINE; a message to a stopped server says so in each pane; switching the
    box to 'local' answers from the app's own model."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    dead = f"http://127.0.0.1:{free_port()}/v1"
    env = {"PERSONAS_DIR": str(tmp_path / "personas"), "STUDIO_BASE_MODEL": str(tiny_model_dir), "STUDIO_CHAT_ENGINE": dead}
    with served_app(tmp_path, env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.get_by_role("tab", name="3. Chat").click()
        expect(page.locator("#chat-engine textarea")).to_have_value(dead, timeout=UI_WAIT)
        page.fill("#chat-message textarea", "Hello there")
        page.click("#chat-send")
        for pane in (0, 1):
            expect(page.locator(f"#chat-note-{pane}")).to_contain_text("does not answer", timeout=UI_WAIT)
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "browser-chat-engine-down.png"), full_page=True)
        page.fill("#chat-engine textarea", "local")
        page.fill("#chat-message textarea", "Hello there")
        page.click("#chat-send")
        for pane, other in ((0, 2), (1, 1)):
            expect(page.locator(f"#chat-note-{pane}")).to_contain_text(f"one batch with pane {other}", timeout=MODEL_WAIT)
        page.screenshot(path=str(artifacts / "browser-chat-engine-local.png"), full_page=True)
        browser.close()
