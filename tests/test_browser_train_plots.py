"""The Train tab in Debian's chromium: a tiny run on 2 processes (gloo) with the knowledge probe and validation
every 2 steps shows the held-out loss and knowledge plots beside the training loss. Screenshot:
artifacts/browser-train-plots.png."""

import json

import pytest

from tests.conftest import POSTS
from tests.test_browser import CHROMIUM, MODEL_WAIT, UI_WAIT, ROOT, app_url  # noqa: F401  (the app fixture)

pytestmark = pytest.mark.browser


def test_knowledge_and_heldout_plots_beside_the_training_loss(app_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    posts = tmp_path / "posts.txt"
    posts.write_text("\n".join(f"{text} (take {i})" for i in range(3) for text in POSTS) + "\n", encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(app_url)
        page.set_input_files("#data-files input[type=file]", str(posts))
        page.click("#data-load")
        expect(page.locator("#data-summary")).to_contain_text("posts loaded", timeout=UI_WAIT)
        page.get_by_role("tab", name="2. Train").click()
        page.fill("#train-name textarea", "plotted")
        page.fill("#train-steps input[type=number]", "6")
        page.get_by_text("More settings").click()
        page.fill("#train-eval-steps input", "2")
        page.fill("#train-probe-steps input", "2")
        page.fill("#train-processes input", "2")
        page.keyboard.press("Tab")
        page.click("#train-button")
        expect(page.locator("#train-result")).to_contain_text("Saved persona", timeout=MODEL_WAIT)
        expect(page.locator("#train-result")).to_contain_text("knowledge probe")
        expect(page.locator("#train-result")).to_contain_text("done on 2 processes")
        for plot in ("#train-loss", "#train-heldout", "#train-knowledge"):
            expect(page.locator(plot).locator("canvas, svg").first).to_be_visible(timeout=UI_WAIT)
        expect(page.locator("#train-knowledge")).to_contain_text("knowledge probe")
        expect(page.locator("#train-heldout")).to_contain_text("held-out loss")
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.locator("#train-knowledge").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "browser-train-plots.png"), full_page=True)
        browser.close()
    request = json.loads((tmp_path / "personas" / ".jobs" / "plotted" / "request.json").read_text())
    assert request["config"]["processes"] == 2
    assert len(list((tmp_path / "personas" / ".jobs" / "plotted" / "ranks").glob("*.pid"))) == 2  # two ranks trained
