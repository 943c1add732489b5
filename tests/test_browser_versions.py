"""The Personas tab's versions side by side in Debian's chromium: the table of each version's measures and the
plot of style against knowledge kept, for a persona whose three versions carry hand-written evaluations
(tests/test_personas_plots.py). Screenshot: artifacts/browser-versions.png."""

import pytest

from studio.persona.registry import PersonaRegistry
from tests.test_browser import CHROMIUM, UI_WAIT, ROOT, app_url  # noqa: F401  (the app fixture)
from tests.test_personas_plots import plant_versions

pytestmark = pytest.mark.browser


def test_versions_table_and_style_knowledge_plot(app_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    plant_versions(PersonaRegistry(tmp_path / "personas"))  # the app's registry
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.get_by_role("tab", name="4. Personas").click()
        table = page.locator("#personas-versions-table")
        for text in ("v3 (current)", "15/16", "93.8", "AUC 0.82 (base 0.97)", "similarity 0.26", "1/3 (base 0)"):
            expect(table).to_contain_text(text, timeout=UI_WAIT)
        plot = page.locator("#personas-versions-plot")
        expect(plot.locator("canvas, svg").first).to_be_visible(timeout=UI_WAIT)
        expect(plot).to_contain_text("knowledge kept")  # the axis title and the legend are drawn
        expect(plot).to_contain_text("base model")

        page.click("#personas-select input")  # a persona never evaluated: its row, and no plot
        page.get_by_role("option", name="never-evaluated").click()
        expect(table).to_contain_text("not evaluated", timeout=UI_WAIT)
        expect(plot).to_be_hidden()
        page.click("#personas-select input")  # back: the plot draws again
        page.get_by_role("option", name="ann").click()
        expect(table).to_contain_text("15/16", timeout=UI_WAIT)
        expect(plot).to_contain_text("v3 (current)", timeout=UI_WAIT)
        expect(plot).to_contain_text("v1")
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        plot.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "browser-versions.png"), full_page=True)
        plot.screenshot(path=str(artifacts / "browser-versions-plot.png"))
        browser.close()
