"""A chat log in a real browser: upload a WhatsApp export, see its speakers with counts, load without
choosing (a clear message), pick one, and see the funnel and only their messages; the screenshot is
saved to artifacts/browser-chatlog.png for a person to look at."""

import pytest

from tests.test_browser import CHROMIUM, UI_WAIT, ROOT, app_url  # noqa: F401

pytestmark = pytest.mark.browser


def chat_log(path):
    lines = []
    for i in range(12):
        lines.append(f"3/{i + 1}/24, 9:0{i % 10} AM - Mina: Morning! Day {i + 1} of the garden diary, the tomatoes look great")
        lines.append(f"3/{i + 1}/24, 9:1{i % 10} AM - Jun: Nice, how tall are they now on day {i + 1}?")
        lines.append(f"3/{i + 1}/24, 9:2{i % 10} AM - Mina: About {20 + i} cm, watering twice a day and it works")
    lines.append("3/12/24, 9:30 AM - Jun: <Media omitted>")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_chat_log_pick_speaker_and_funnel(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(app_url)
        page.set_input_files("#data-files input[type=file]", str(chat_log(tmp_path / "WhatsApp Chat with Jun.txt")))
        speakers = page.locator("#data-speakers")
        expect(speakers).to_be_visible(timeout=UI_WAIT)
        expect(speakers).to_contain_text("pick whose messages are the persona's")
        page.click("#data-load")  # none chosen yet: loading says so and names the speakers
        expect(page.get_by_text("Mina (24), Jun (12)").first).to_be_visible(timeout=UI_WAIT)
        speakers.locator("input").click()
        page.get_by_role("option", name="Mina (24 messages)").click()
        page.keyboard.press("Escape")
        page.click("#data-load")
        expect(page.locator("#data-summary")).to_contain_text("24 posts loaded", timeout=UI_WAIT)
        table = page.locator("#data-posts")
        expect(table).to_contain_text("watering twice a day")
        expect(table).not_to_contain_text("how tall are they")
        expect(page.locator("#data-funnel")).to_be_visible()
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "browser-chatlog.png"), full_page=True)
        browser.close()
