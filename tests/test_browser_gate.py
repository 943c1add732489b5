"""The publish gate in a real browser: pushing the planted memorising persona from the Personas tab is refused,
with the phone and the copied post shown in the gate's report; screenshot artifacts/browser-gate-refused.png."""

import pytest

from tests.test_browser import CHROMIUM, MODEL_WAIT, ROOT, UI_WAIT, app_url  # noqa: F401
from tests.planted import PHONE, PLANTED

pytestmark = pytest.mark.browser


def test_the_gate_refuses_a_push_from_the_personas_tab(parrot, app_url):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(app_url)
        page.get_by_role("tab", name="4. Personas").click()
        expect(page.locator("#personas-table")).to_contain_text("parrot", timeout=UI_WAIT)
        page.get_by_text("Hugging Face Hub").click()
        expect(page.locator("#gate-consent")).to_contain_text("Consent:", timeout=UI_WAIT)
        page.fill("#personas-token input", "hf_browser_token")
        page.fill("#personas-repo textarea", "alice/parrot")
        page.click("#personas-push")
        report = page.locator("#gate-report")
        expect(report).to_contain_text("refused", timeout=MODEL_WAIT)
        expect(report).to_contain_text(PHONE)
        expect(report).to_contain_text(PLANTED[0][:40])
        expect(page.locator("#personas-status")).to_contain_text("Push refused")
        (ROOT / "artifacts").mkdir(exist_ok=True)
        page.locator("#gate-report").scroll_into_view_if_needed()
        page.screenshot(path=str(ROOT / "artifacts" / "browser-gate-refused.png"), full_page=True)
        browser.close()
