"""The Personas tab's facts editor in Debian's chromium: a persona's facts are listed, a new one is typed into
a blank row and saved, and the registry holds it. Screenshot: artifacts/browser-facts.png."""

import pytest

from studio.persona.registry import PersonaRegistry
from tests.test_browser import CHROMIUM, ROOT, app_url  # noqa: F401  (the app fixture)
from tests.test_personas_plots import plant_versions

pytestmark = pytest.mark.browser


def test_facts_editor_lists_adds_and_saves(app_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    registry = PersonaRegistry(tmp_path / "personas")  # the app's registry
    plant_versions(registry)
    registry.set_facts("ann", [{"question": "趣味は？", "answers": ["アニメ", "ドライブ", "麻雀"]}])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(app_url)
        page.get_by_role("tab", name="4. Personas").click()
        page.click("#personas-select input")
        page.get_by_role("option", name="ann").click()
        page.get_by_role("button", name="Their facts").click()  # the accordion, closed at first
        editor = page.locator("#personas-facts")
        expect(editor).to_contain_text("趣味は？", timeout=30_000)
        expect(editor).to_contain_text("アニメ; ドライブ; 麻雀")
        for column, text in enumerate(("What city do you live in?", "Berlin; Germany")):
            cell = editor.get_by_test_id(f"cell-1-{column}")  # gradio 6's grid cells: row 1 is the first blank one
            cell.dblclick()
            expect(cell.get_by_label("Edit cell")).to_be_focused()  # typed before the editor has focus, a key is lost
            page.keyboard.type(text)
            page.keyboard.press("Enter")
            expect(editor).to_contain_text(text, timeout=10_000)
        page.click("#personas-facts-save")
        expect(page.locator("#personas-facts-status")).to_contain_text("Saved 2 facts", timeout=30_000)
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        editor.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "browser-facts.png"), full_page=True)
        browser.close()
    assert registry.get("ann").facts == [{"question": "趣味は？", "answers": ["アニメ", "ドライブ", "麻雀"]},
                                         {"question": "What city do you live in?", "answers": ["Berlin", "Germany"]}]
