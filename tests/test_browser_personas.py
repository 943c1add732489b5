"""The Personas tab in a real browser: table, details, versions, export, push and pull against the
local stand-in Hub (tests/hub_standin.py), with a screenshot in artifacts/browser-personas.png."""

import re

import pytest

from studio.persona.registry import PersonaRegistry
from tests import hub_standin
from tests.test_browser import CHROMIUM, MODEL_WAIT, UI_WAIT, ROOT, app_url  # noqa: F401

pytestmark = pytest.mark.browser
TOKEN = "hf_browser_secret_token"


@pytest.fixture
def hub(monkeypatch):
    """The stand-in Hub; the app process inherits HF_ENDPOINT and is online (for it) through it."""
    server, state, url = hub_standin.start({TOKEN: {"name": "alice"}})
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def two_versions(tiny_persona):
    """'tiny' retrained once: v2 current, v1 kept."""
    registry = PersonaRegistry()
    with registry.create(registry.get("tiny"), overwrite=True) as staging:
        (staging / "adapter").mkdir()
        for file in tiny_persona.adapter_dir.iterdir():
            (staging / "adapter" / file.name).write_bytes(file.read_bytes())
    return registry


def restore_v1(page, status) -> None:
    """Pick v1 and restore it. The page refreshes on load and again on the tab switch; a refresh sent before
    the pick may land after it and show the current version again, which the app then refuses to "restore"
    with a clear message (and an "Error" mark over the picker, which its clear button takes away). Pick again
    then: what is waited on is the app's answer, never a fixed time."""
    from playwright.sync_api import expect

    refusals = page.get_by_text("already the current version")
    error_cleared = page.locator("#personas-version [data-testid=status-tracker] .clear-status button")
    for _ in range(3):
        refused = refusals.count()
        if error_cleared.count():  # a refusal marks the picker "Error" over it until cleared, as a user would
            error_cleared.first.click()
        page.click("#personas-version input")
        page.get_by_role("option", name=re.compile(r"^v1 ")).click()
        page.click("#personas-restore")
        answer = status.filter(has_text="tiny is now v1").or_(refusals.nth(refused))
        expect(answer.first).to_be_visible(timeout=UI_WAIT)
        if "tiny is now v1" in status.inner_text():
            return
    raise AssertionError(f"v1 was never restored: {status.inner_text()!r}")


def test_personas_tab_versions_export_push_pull(hub, two_versions, app_url, tmp_path, tiny_model_dir):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1700})
        page.goto(app_url)
        (ROOT / "artifacts").mkdir(exist_ok=True)
        page.get_by_role("tab", name="4. Personas").click()
        expect(page.locator("#personas-table")).to_contain_text("tiny", timeout=UI_WAIT)
        expect(page.locator("#personas-table")).to_contain_text("v2")
        details = page.locator("#personas-details")
        expect(details).to_contain_text("8 kept", timeout=UI_WAIT)
        expect(details).to_contain_text("Training")

        status = page.locator("#personas-status")
        restore_v1(page, status)
        expect(page.locator("#personas-table")).to_contain_text("v1")

        page.get_by_text("Export / import").click()
        page.click("#personas-export")
        expect(page.locator("#personas-exported")).to_contain_text(re.compile(r"tiny\s*\.zip"), timeout=UI_WAIT)  # the current one, v1

        page.get_by_text("Hugging Face Hub").click()
        page.fill("#personas-token input", TOKEN)
        page.fill("#personas-repo textarea", "bob/tiny")
        page.click("#personas-push")
        expect(page.get_by_text("belongs to 'bob'").first).to_be_visible(timeout=UI_WAIT)
        page.fill("#personas-repo textarea", "alice/tiny-web")
        page.click("#personas-push")
        expect(status).to_contain_text("Pushed tiny to", timeout=UI_WAIT)
        page.fill("#personas-pull-repo textarea", "alice/tiny-web")
        page.fill("#personas-pull-name textarea", "From Hub")
        page.fill("#personas-pull-base textarea", str(tiny_model_dir))
        page.click("#personas-pull")
        expect(status).to_contain_text("Pulled alice/tiny-web as from-hub", timeout=UI_WAIT)
        expect(page.locator("#personas-table")).to_contain_text("from-hub")
        page.get_by_role("tab", name="3. Chat").click()  # compare the restored v1 with the kept v2
        page.click("#chat-target-0 input")
        page.locator("#chat-target-0").get_by_role("option", name="Tiny (tiny)").click()
        page.click("#chat-target-1 input")
        page.locator("#chat-target-1").get_by_role("option", name="Tiny v2 (tiny@v2)").click()
        page.fill("#chat-message textarea", "Hello")
        page.click("#chat-send")
        for pane, other in ((0, 2), (1, 1)):  # done when each note says how it ran
            expect(page.locator(f"#chat-note-{pane}")).to_contain_text(f"one batch with pane {other}", timeout=MODEL_WAIT)
            expect(page.locator(f"#chat-pane-{pane} [data-testid='bot']").last).not_to_be_empty()
        page.screenshot(path=str(ROOT / "artifacts" / "browser-personas-compare.png"), full_page=False)
        page.get_by_role("tab", name="4. Personas").click()
        page.get_by_text("Model card (README.md)").click()
        expect(page.locator("#personas-card")).to_contain_text("How to use")
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "browser-personas.png"), full_page=True)
        browser.close()
    files = hub.repos["alice/tiny-web"]["files"]
    assert files["adapter_model.safetensors"] == (PersonaRegistry().get("from-hub").adapter_dir / "adapter_model.safetensors").read_bytes()
    assert TOKEN not in (tmp_path / "app.log").read_text()
    assert not [f for f in (tmp_path / "personas").rglob("*") if f.is_file() and TOKEN.encode() in f.read_bytes()]
