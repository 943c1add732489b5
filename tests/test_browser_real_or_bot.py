"""Real or bot? in a real browser: the page alone (`python app.py --real-or-bot tiny`), a judge taking five rounds,
nothing of the registry or the other tabs on it; the same page through gradio_client: only its own endpoints,
no token or real side in any answer, a vote without a round refused. Screenshot: artifacts/browser-real-or-bot.png."""

from pathlib import Path

import pytest

from studio.chat.real_or_bot import RealOrBot
from tests.test_browser import CHROMIUM, ROOT, served_app
from tests.test_real_or_bot import HELD_OUT, judged_persona

pytestmark = pytest.mark.browser


@pytest.fixture
def judge_url(tiny_persona, tmp_path, tiny_model_dir):
    """The page alone for 'tiny' (eight held-out posts, replies written ahead), served by app.py."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    rob = RealOrBot()
    judged_persona(rob.registry)
    assert rob.fill_pool("tiny") >= 5
    with served_app(tmp_path, {"STUDIO_BASE_MODEL": str(tiny_model_dir)}, ("--real-or-bot", "tiny")) as url:
        yield url, rob


def test_a_judge_takes_five_rounds_and_the_api_reveals_nothing(judge_url):
    from gradio_client import Client
    from playwright.sync_api import expect, sync_playwright

    url, rob = judge_url
    reals = {p["text"] for p in HELD_OUT}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url)
        expect(page.get_by_text("Which one did Tiny write?")).to_be_visible(timeout=60_000)
        shown = []
        for n in range(1, 6):
            expect(page.locator("#rob-opening")).to_contain_text(f"Round {n}.", timeout=60_000)
            expect(page.locator("#rob-pick-a")).to_be_enabled()
            a, b = page.locator("#rob-a textarea").input_value(), page.locator("#rob-b textarea").input_value()
            assert (a in reals) != (b in reals)
            shown.append(a if a in reals else b)
            if n == 5:
                page.locator("#rob-sure").get_by_text("certain").click()
                page.screenshot(path=str(ROOT / "artifacts" / "browser-real-or-bot.png"), full_page=True)
            page.click("#rob-pick-a" if n % 2 else "#rob-pick-b")
            expect(page.locator("#rob-result")).to_contain_text(f"of {n}.", timeout=30_000)
            expect(page.locator("#rob-pick-a")).to_be_disabled()
            if n < 5:
                page.click("#rob-next")
        assert len(set(shown)) == 5  # never the same real post twice
        html = page.locator("body").inner_text()
        browser.close()
    for other in ("Train", "Personas", "Data", "tiny@v1", "Chat", "Hub"):
        assert other not in html  # nothing of the registry or the other tabs
    votes = rob.votes("tiny")
    assert len(votes) == 5 and votes[-1]["sure"] == 3

    client = Client(url, verbose=False)
    assert set(client.view_api(return_format="dict", print_info=False)["named_endpoints"]) == {"/round", "/vote_a", "/vote_b"}
    with pytest.raises(Exception, match="No open round"):
        client.predict(None, api_name="/vote_a")  # a vote the page did not ask for
    answer = client.predict(None, api_name="/round")
    answer = list(answer)
    at = next(i for i, x in enumerate(answer) if str(x).startswith("**Round"))  # the opening, then sides A and B
    a, b = answer[at + 1:at + 3]
    assert (a in reals) != (b in reals)  # one real post, shown
    rest = " ".join(str(x) for x in answer[:at] + answer[at + 3:])  # their words and the bot's may say "real"; nothing else may
    assert "real" not in rest.lower().replace("the real one", "") and not any(text in rest for text in reals)
    client.predict(None, api_name="/vote_b")
    with pytest.raises(Exception, match="No open round"):
        client.predict(None, api_name="/vote_b")  # replayed
    assert len(rob.votes("tiny")) == 6
