"""The Train tab's base-model picker in Debian's chromium: the tiny model is picked from the Hugging Face cache
(laid out in a temp folder as huggingface_hub writes it), its size, licence and memory-fit line shows before
training, a Hub id that is not cached says so, and a few training steps run on the picked model.
Screenshot: artifacts/browser-picker.png."""

import hashlib
import json

import pytest
from safetensors.torch import load_file

from tests.conftest import POSTS
from tests.test_browser import CHROMIUM, ROOT, app_url  # noqa: F401  (the app fixture, used through picker_app)
from tests.test_catalog import fake_hub_cache

pytestmark = pytest.mark.browser
REPO = "tiny-org/tiny-llama"


@pytest.fixture
def picker_app(request, tmp_path, tiny_model_dir, monkeypatch):
    """The app (tests/test_browser.py's fixture) with a Hugging Face cache holding the tiny model as REPO."""
    snapshot = fake_hub_cache(tmp_path / "hub", REPO, {p.name: p for p in tiny_model_dir.iterdir()})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    return request.getfixturevalue("app_url"), snapshot


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pick_the_tiny_model_see_its_fit_and_train_on_it(picker_app, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, snapshot = picker_app
    weights_before = digest(snapshot / "model.safetensors")
    posts = tmp_path / "posts.txt"
    posts.write_text("\n".join(POSTS) + "\n", encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(url)
        page.set_input_files("#data-files input[type=file]", str(posts))
        page.click("#data-load")
        expect(page.locator("#data-summary")).to_contain_text("posts loaded", timeout=60_000)
        page.get_by_role("tab", name="2. Train").click()
        info = page.locator("#train-base-info")
        expect(info).to_contain_text("LoRA fp32 on CPU", timeout=120_000)  # the default base, filled on page load

        page.click("#train-base-pick input")
        page.get_by_role("option", name=f"HF cache: {REPO}").click()
        expect(info).to_contain_text(f"Base model: {REPO}", timeout=120_000)
        for words in ("M parameters", "MB on disk", "licence unknown", "chat template", "LoRA fp32 on CPU: ~",
                      "RAM available): fits", "bf16 LoRA on a GPU", "4-bit QLoRA on a GPU", "no CUDA GPU here"):
            expect(info).to_contain_text(words)

        page.fill("#train-base textarea", "someone/not-cached")  # typed: overrides the list
        page.keyboard.press("Tab")
        expect(info).to_contain_text("not in the Hugging Face cache and the Hub cannot be reached (offline)", timeout=60_000)
        page.fill("#train-base textarea", "")
        page.keyboard.press("Tab")
        expect(info).to_contain_text(f"Base model: {REPO}", timeout=60_000)

        page.fill("#train-name textarea", "picked")
        page.fill("#train-steps input[type=number]", "3")
        page.keyboard.press("Tab")
        page.click("#train-button")
        expect(page.locator("#train-result")).to_contain_text("Saved persona", timeout=300_000)
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        info.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "browser-picker.png"), full_page=True)
        browser.close()

    persona = tmp_path / "personas" / "picked"
    manifest = json.loads((persona / "persona.json").read_text())
    assert manifest["base_model"]["id"] == REPO and manifest["base_model"]["spec"] == REPO
    assert manifest["train"]["base_model"] == REPO
    adapter = load_file(persona / "adapter" / "adapter_model.safetensors")
    assert any(name.endswith("lora_B.weight") and tensor.abs().sum() > 0 for name, tensor in adapter.items())  # B starts at 0
    assert digest(snapshot / "model.safetensors") == weights_before  # the base did not change
