"""The evaluation in the Personas tab, in Debian's chromium: a persona's stored evaluation is shown, and "Run evaluation"
redoes it with a progress bar. Screenshot: artifacts/browser-evaluate.png."""

from __future__ import annotations

import pytest

from studio.training.config import TrainConfig
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona
from tests.test_browser import CHROMIUM, MODEL_WAIT, UI_WAIT, ROOT, app_url  # noqa: F401  (the app fixture)
from tests.test_evaluate import POSTS

pytestmark = pytest.mark.browser


def test_evaluate_tab_shows_and_reruns_an_evaluation(app_url, tmp_path, tiny_model_dir):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    registry = PersonaRegistry(tmp_path / "personas")  # the app's registry
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=4, max_length=96, eval_steps=0, evaluate=True)
    train_persona([Post(text=t) for t in POSTS], "Eval Bot", config, registry=registry)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.get_by_role("tab", name="4. Personas").click()  # the evaluation sits in the Personas tab
        summary = page.locator("#eval-summary")
        expect(summary).to_contain_text("sounds like them:", timeout=UI_WAIT)
        expect(summary).to_contain_text("on 16 prompts")
        expect(page.locator("#eval-metrics")).to_contain_text("knowledge probe accuracy")
        expect(page.locator("#eval-samples")).to_contain_text("nearest training post")

        page.fill("#eval-prompts input[type=number]", "4")
        page.keyboard.press("Tab")
        page.click("#eval-run")
        expect(summary).to_contain_text("on 4 prompts", timeout=MODEL_WAIT)
        expect(summary).to_contain_text("copies them:")
        expect(page.locator("#eval-plot").locator("canvas, svg").first).to_be_visible()  # drawn, for the picture
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "browser-evaluate.png"), full_page=True)
        evaluation = registry.get("eval-bot").extra["evaluation"]
        assert evaluation["config"]["prompts"] == 4
        for sample in evaluation["samples"]:  # each prompt shown with its reply's nearest training post
            expect(page.locator("#eval-samples")).to_contain_text(sample["prompt"])
            expect(page.locator("#eval-samples")).to_contain_text(sample["nearest"])
        browser.close()
