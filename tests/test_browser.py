"""The browser path a new user takes: upload -> train -> one message answered in both chat panes.

Debian's chromium driven by Playwright (never a downloaded browser); the screenshot is saved
to artifacts/browser-skeleton.png for a person to look at.
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser
# Waits are on a state the UI shows, each as long as the work behind it can take on a slow, busy machine (the
# app's everyday case: a persona trains beside the chat): never a fixed sleep, never Playwright's 5 s default.
UI_WAIT = 60_000  # ms: a state that needs no model work (a table, a status, a vote); every bare expect's default
MODEL_WAIT = 600_000  # ms: a state after work that loads, trains or runs a model (a saved persona, a reply)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(tmp_path, env: dict, args: tuple = ()):
    """`python app.py ARGS` in its own process with `env` added, on a free port; yields its URL once the port
    answers (waiting on that, up to 300 s on a busy machine); the log is tmp_path/app.log."""
    port = free_port()
    env = {**os.environ, **env, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(tmp_path / "app.log", "w")
    app = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert app.poll() is None, (tmp_path / "app.log").read_text()
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.terminate()
        app.wait(timeout=30)


@pytest.fixture
def app_url(tmp_path, tiny_model_dir):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing in CI: the test command should have installed Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_WAIT)  # the default for every expect without its own timeout
    with served_app(tmp_path, {"PERSONAS_DIR": str(tmp_path / "personas"), "STUDIO_BASE_MODEL": str(tiny_model_dir)}) as url:
        yield url


def train_in_browser(page, name: str, steps: int) -> None:
    """Train tab: name, steps, press Train, wait for the saved persona."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="2. Train").click()
    page.fill("#train-name textarea", name)
    page.fill("#train-steps input[type=number]", str(steps))
    page.keyboard.press("Tab")
    page.click("#train-button")
    expect(page.locator("#train-result")).to_contain_text("Saved persona", timeout=MODEL_WAIT)


def test_upload_train_chat_in_both_panes(app_url, tmp_path, posts_file):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)

        page.set_input_files("#data-files input[type=file]", str(posts_file))
        page.click("#data-load")
        expect(page.locator("#data-summary")).to_contain_text("8 posts loaded, 8 kept", timeout=UI_WAIT)
        expect(page.locator("#data-posts")).to_contain_text("Coffee first, then code.")
        expect(page.locator("#data-steps")).to_be_visible()
        expect(page.locator("#data-fit")).to_contain_text("Language fit", timeout=MODEL_WAIT)  # does the base fit their language?

        train_in_browser(page, "Browser Bot", steps=4)
        expect(page.locator("#train-result")).to_contain_text("done, step 4/4")
        expect(page.locator("#train-fit")).to_contain_text("Language fit")  # shown in the Train tab before training

        page.get_by_role("tab", name="3. Chat").click()
        page.click("#chat-target-1 input")
        page.get_by_role("option", name="Browser Bot (browser-bot)").click()
        expect(page.locator("#chat-system-1 textarea")).to_have_value(
            "You are Browser Bot. Reply like one of your posts: one short, casual line.")  # the default prompt's style line
        page.fill("#chat-message textarea", "How was your day?")
        page.click("#chat-send")
        for pane in (0, 1):  # at once, before the model answers (or has even loaded): the message, and a note saying why
            expect(page.locator(f"#chat-pane-{pane} [data-testid='user']")).to_contain_text("How was your day?",
                                                                                          timeout=UI_WAIT)
            expect(page.locator(f"#chat-note-{pane}")).to_contain_text(
                re.compile("loading model|writing|one batch"), timeout=UI_WAIT)
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "browser-chat-sent.png"), full_page=False)  # the message, before the reply
        for pane, other in ((0, 2), (1, 1)):  # the reply is done when the note says how it ran
            expect(page.locator(f"#chat-note-{pane}")).to_contain_text(f"one batch with pane {other}", timeout=MODEL_WAIT)
            expect(page.locator(f"#chat-pane-{pane} [data-testid='bot']").last).not_to_be_empty()
        page.screenshot(path=str(artifacts / "browser-skeleton.png"), full_page=True)
        replies = [page.locator(f"#chat-pane-{pane} [data-testid='bot']").last.inner_text().strip() for pane in (0, 1)]
        assert all(replies), replies
        browser.close()


def test_bad_upload_shows_a_clear_error(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    bad = tmp_path / "table.csv"
    bad.write_text("id,likes\n1,2\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(app_url)
        page.set_input_files("#data-files input[type=file]", str(bad))
        page.click("#data-load")
        expect(page.get_by_text("no text column found among id, likes")).to_be_visible(timeout=UI_WAIT)
        page.get_by_role("tab", name="2. Train").click()
        page.fill("#train-name textarea", "x")
        page.click("#train-button")
        expect(page.get_by_text("No posts loaded")).to_be_visible(timeout=UI_WAIT)
        browser.close()


def test_x_archive_funnel_untick_and_train(app_url, tmp_path):
    """The funnel of a real X archive uploaded with a CSV (per source too), one post unticked, and the persona's
    report that counts it."""
    from playwright.sync_api import expect, sync_playwright

    from studio.persona.registry import PersonaRegistry
    from tests.conftest import FIXTURES

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(app_url)
        page.set_input_files("#data-files input[type=file]", [str(FIXTURES / "x-archive-andreruffert.zip"),
                                                               str(FIXTURES / "koume-dayuu-tweets.csv")])
        page.click("#data-load")
        summary = page.locator("#data-summary")
        expect(summary).to_contain_text("6392 posts loaded", timeout=UI_WAIT)
        sources = page.locator("#data-sources")
        for text in ("x-archive-andreruffert.zip", "1986", "koume-dayuu-tweets.csv", "4406", "retweets", "share"):
            expect(sources).to_contain_text(text)
        expect(summary).to_contain_text("Mix of the kept posts: x-archive-andreruffert.zip 21% (orange), koume-dayuu-tweets.csv 79% (blue)")
        expect(page.locator("#data-steps")).to_contain_text("retweets")
        expect(page.locator("#data-steps")).to_contain_text("643")
        expect(page.locator("#data-funnel")).to_be_visible()
        kept = int(summary.inner_text().split("posts loaded,")[1].split("kept")[0])
        first_post = page.locator("#data-posts [data-testid='cell-0-0'] input[type=checkbox]")
        first_post.uncheck()
        expect(first_post).not_to_be_checked()
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "browser-data-funnel.png"), full_page=True)

        train_in_browser(page, "andre", steps=2)
        browser.close()
    persona = PersonaRegistry(tmp_path / "personas").get("andre")
    assert persona.data["removed"]["retweets"] == 643 and persona.data["removed"]["unticked"] == 1
    assert persona.data["kept"] == kept - 1 == persona.data["split"]["train"] + persona.data["split"]["validation"]
    sources = persona.data["sources"]
    assert [s["loaded"] for s in sources.values()] == [1986, 4406]
    assert sum(s["kept"] for s in sources.values()) == kept - 1
    assert all(train > 0 and validation > 0 for train, validation in persona.data["split"]["sources"].values())


def test_live_loss_plot_and_cancel(app_url, tmp_path, posts_file):
    """A long run: the status and the loss plot move while it trains, Cancel stops it, nothing is saved."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(app_url)
        page.set_input_files("#data-files input[type=file]", str(posts_file))
        page.click("#data-load")
        expect(page.locator("#data-summary")).to_contain_text("posts loaded", timeout=UI_WAIT)
        page.get_by_role("tab", name="2. Train").click()
        page.fill("#train-name textarea", "long run")
        page.fill("#train-steps input[type=number]", "2000")
        page.keyboard.press("Tab")
        page.click("#train-button")
        status = page.locator("#train-result")
        expect(status).to_contain_text(re.compile(r"running, step \d+/2000"), timeout=MODEL_WAIT)
        first = int(re.search(r"step (\d+)/", status.inner_text()).group(1))
        expect(page.locator("#train-loss canvas, #train-loss svg").first).to_be_visible(timeout=UI_WAIT)
        expect(status).not_to_contain_text(f"step {first}/2000", timeout=MODEL_WAIT)  # the next step shows
        second = int(re.search(r"step (\d+)/", status.inner_text()).group(1))
        assert second > first, "the status must move while training"
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "browser-train-live.png"), full_page=False)
        page.reload()  # a reload (or a second browser) shows the same run: it lives on disk, not in the page
        page.get_by_role("tab", name="2. Train").click()
        expect(status).to_contain_text(re.compile(r"long run .*running, step \d+/2000"), timeout=UI_WAIT)
        page.click("#train-cancel")
        expect(status).to_contain_text("cancelled", timeout=UI_WAIT)
        expect(page.locator("#train-runs")).to_contain_text("cancelled")
        browser.close()
    assert not (tmp_path / "personas" / "long-run").exists()
