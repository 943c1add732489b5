"""The chat arena in a real browser: three panes (base + two tiny personas) answering one message together,
a persona-to-persona exchange, and a blind vote. Screenshots go to artifacts/browser-chat-*.png."""

import pytest

from studio.training.config import TrainConfig
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona
from tests.conftest import POSTS
from tests.test_browser import CHROMIUM, MODEL_WAIT, ROOT, UI_WAIT, app_url  # noqa: F401  (the running app fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def personas(tmp_path, tiny_model_dir):
    registry = PersonaRegistry(tmp_path / "personas")  # the folder app_url serves
    for name, seed in (("Alpha", 0), ("Beta", 1)):
        config = TrainConfig(base_model=str(tiny_model_dir), max_steps=6, learning_rate=2e-2, batch_size=4, seed=seed)
        train_persona([Post(p) for p in POSTS], name, config, registry=registry)
    return registry


def pick(page, selector: str, option: str) -> None:
    page.click(f"{selector} input")
    page.locator(selector).get_by_role("option", name=option).click()


def test_three_panes_duel_and_blind_vote(personas, app_url):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.goto(app_url)
        page.get_by_role("tab", name="3. Chat").click()
        page.locator("#chat-count").get_by_text("3", exact=True).click()
        expect(page.locator("#chat-target-2")).to_be_visible()
        pick(page, "#chat-target-1", "Alpha (alpha)")
        pick(page, "#chat-target-2", "Beta (beta)")
        expect(page.locator("#chat-system-2 textarea")).to_have_value(
            "You are Beta. Reply like one of your posts: one short, casual line.")  # the default prompt's style line

        page.fill("#chat-message textarea", "How was your day?")
        page.click("#chat-send")
        for pane in (0, 1, 2):
            expect(page.locator(f"#chat-pane-{pane} [data-testid='user']")).to_contain_text("How was your day?",
                                                                                          timeout=UI_WAIT)
        for pane, others in ((0, "2, 3"), (1, "1, 3"), (2, "1, 2")):  # done when each note says how it ran
            expect(page.locator(f"#chat-note-{pane}")).to_contain_text(f"one batch with panes {others}", timeout=MODEL_WAIT)
            expect(page.locator(f"#chat-pane-{pane} [data-testid='bot']").last).not_to_be_empty()
        replies = [page.locator(f"#chat-pane-{pane} [data-testid='bot']").last.inner_text().strip() for pane in (0, 1, 2)]
        assert all(replies) and len(set(replies)) == 3, replies
        page.screenshot(path=str(artifacts / "browser-chat-panes.png"), full_page=True)

        page.get_by_text("Persona to persona").click()
        pick(page, "#duel-first", "Alpha (alpha)")
        pick(page, "#duel-second", "Beta (beta)")
        page.fill("#duel-opening textarea", "Nice weather today.")
        page.click("#duel-start")
        expect(page.locator("#duel-chat [data-testid='bot']")).to_have_count(2, timeout=MODEL_WAIT)
        expect(page.locator("#duel-chat [data-testid='user']")).to_have_count(3, timeout=MODEL_WAIT)  # opening + 4 turns: 3 alpha, 2 beta
        expect(page.locator("#duel-chat")).to_contain_text("alpha: Nice weather today.")
        page.locator("#duel-chat").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "browser-chat-duel.png"), full_page=True)

        page.click("#chat-blind input")
        expect(page.locator("#chat-target-0")).to_be_hidden()
        page.fill("#chat-message textarea", "Say something.")
        page.click("#chat-send")
        for pane in (0, 1, 2):
            expect(page.locator(f"#chat-note-{pane}")).to_contain_text("hidden until you vote", timeout=MODEL_WAIT)
            expect(page.locator(f"#chat-pane-{pane} [data-testid='bot']").last).not_to_be_empty()
        expect(page.locator("#chat-vote-3")).to_be_hidden()  # three panes, three vote buttons
        page.click("#chat-vote-1")
        expect(page.locator("#chat-note-1")).to_contain_text("(your pick)", timeout=UI_WAIT)
        expect(page.locator("#chat-winrates")).to_contain_text("Win rate")
        expect(page.locator("#chat-winrates")).to_contain_text("100%")
        page.screenshot(path=str(artifacts / "browser-chat-blind.png"), full_page=True)
        browser.close()
    import sqlite3

    votes = sqlite3.connect(personas.root / ".arena.sqlite").execute("SELECT winner, loser FROM votes").fetchall()
    assert len(votes) == 2 and len({w for w, _ in votes}) == 1
