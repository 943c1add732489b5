"""Push and pull through the real huggingface_hub client against a local stand-in Hub (tests/hub_standin.py)."""

import json
import socket

import pytest
import yaml

from studio.persona.hub import HubError, pull, push
from studio.persona.registry import PersonaRegistry
from tests import hub_standin

ALICE, BOB = "hf_alice_secret_token", "hf_bob_secret_token"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    import huggingface_hub.constants

    server, state, url = hub_standin.start({ALICE: {"name": "alice", "orgs": [{"name": "acme"}]}, BOB: {"name": "bob"}})
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # conftest keeps every other test offline
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no stored token from the machine
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield state
    server.shutdown()
    server.server_close()


def test_push_then_pull_gives_identical_adapter_and_a_card(hub, tiny_persona, tiny_model_dir, tmp_path):
    url = push("tiny", "alice/tiny-persona", token=ALICE)
    assert url.endswith("alice/tiny-persona")
    files = hub.repos["alice/tiny-persona"]["files"]
    assert set(files) == {"adapter_config.json", "adapter_model.safetensors", "README.md", "persona-studio.json"}
    weights = (tiny_persona.adapter_dir / "adapter_model.safetensors").read_bytes()
    assert files["adapter_model.safetensors"] == weights

    card = files["README.md"].decode()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["base_model"] == tiny_persona.base_model["id"] and meta["library_name"] == "peft"
    assert {"lora", "persona-studio"} <= set(meta["tags"]) and meta["license"] == "other"
    assert set(meta["language"]) == {"en", "ja"}
    assert 'PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(' in card and '"alice/tiny-persona"' in card

    manifest = json.loads(files["persona-studio.json"])
    uploaded = b"".join(r["body"] for r in hub.requests) + json.dumps(manifest).encode() + card.encode()
    assert ALICE.encode() not in uploaded and str(tmp_path).encode() not in files["persona-studio.json"]
    assert str(tiny_model_dir) not in json.dumps(manifest) + files["adapter_config.json"].decode()  # no local paths
    assert all(r["authorization"] == f"Bearer {ALICE}" for r in hub.requests)  # the token only in the header
    assert ALICE not in (tiny_persona.path / "persona.json").read_text()
    assert PersonaRegistry().get("tiny").extra["hub"]["repo"] == "alice/tiny-persona"
    called = {(r["method"], r["path"].split("/alice/")[0]) for r in hub.requests}
    assert {("GET", "/api/whoami-v2"), ("POST", "/api/repos/create"), ("POST", "/api/models")} <= called

    pulled = pull("alice/tiny-persona", name="Tiny Again", base=str(tiny_model_dir))
    assert (pulled.adapter_dir / "adapter_model.safetensors").read_bytes() == weights
    assert pulled.system_prompt == tiny_persona.system_prompt and pulled.data["kept"] == tiny_persona.data["kept"]
    assert pulled.extra["hub"]["repo"] == "alice/tiny-persona" and (pulled.path / "README.md").is_file()

    push("tiny", "acme/tiny-persona", token=ALICE, private=True)  # an organisation of the user
    assert hub.repos["acme/tiny-persona"]["private"]


def test_pull_a_plain_peft_adapter_repo(hub, tiny_persona, tiny_model_dir):
    config = json.loads((tiny_persona.adapter_dir / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tiny_model_dir)
    weights = (tiny_persona.adapter_dir / "adapter_model.safetensors").read_bytes()
    hub.add_repo("someone/lora", {"adapter_config.json": json.dumps(config).encode(), "adapter_model.safetensors": weights,
                                  "training_args.bin": b"pickle!"})
    persona = pull("someone/lora")
    assert persona.slug == "lora" and persona.system_prompt.startswith("You are lora.")
    assert (persona.adapter_dir / "adapter_model.safetensors").read_bytes() == weights
    assert not list(persona.path.rglob("*.bin"))
    assert not any("training_args.bin" in r["path"] for r in hub.requests if r["method"] == "GET")


def test_clear_messages_for_hub_failures(hub, tiny_persona, tiny_model_dir, monkeypatch):
    with pytest.raises(HubError, match="No Hugging Face token: set HF_TOKEN"):
        push("tiny", "alice/x")
    with pytest.raises(HubError, match=r"refused the token \(401\)"):
        push("tiny", "alice/x", token="hf_wrong")
    with pytest.raises(HubError, match="belongs to 'bob'.*Push to alice/x instead"):
        push("tiny", "bob/x", token=ALICE)
    monkeypatch.setenv("HF_TOKEN", BOB)  # the Space secret
    hub.add_repo("acme/locked", {})  # an organisation where this token may only read
    hub.fail["/api/models/acme/locked/preupload"] = 403
    with pytest.raises(HubError, match=r"may not push to acme/locked \(403\)"):
        push("tiny", "acme/locked", token=ALICE)
    hub.fail.clear()
    hub.fail["/api/whoami-v2"] = 429
    with pytest.raises(HubError, match=r"rate-limiting.*\(429\)"):
        push("tiny", "bob/x")
    hub.fail.clear()
    push("tiny", "bob/x")  # HF_TOKEN is used when no token is typed
    assert hub.repos["bob/x"]["files"]
    with pytest.raises(HubError, match=r"not found on the Hub \(404\)"):
        pull("bob/missing", base=str(tiny_model_dir))
    monkeypatch.delenv("HF_TOKEN")
    hub.add_repo("bob/secret", hub.repos["bob/x"]["files"], private=True)
    with pytest.raises(HubError, match=r"private and your token cannot see it \(401\)"):
        pull("bob/secret", base=str(tiny_model_dir))
    hub.add_repo("bob/pickled", {"adapter_config.json": b'{"peft_type": "LORA"}', "adapter_model.bin": b"x"})
    with pytest.raises(HubError, match="no adapter_model.safetensors"):
        pull("bob/pickled")
    with pytest.raises(HubError, match="not a Hub repo name"):
        pull("../etc")
    assert [p.slug for p in PersonaRegistry().list()] == ["tiny"]  # no failure wrote anything


def test_no_network_message(hub, tiny_persona, monkeypatch):
    import huggingface_hub.constants

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed}")
    with pytest.raises(HubError, match="Cannot reach the Hub"):
        push("tiny", "alice/x", token=ALICE)
    with pytest.raises(HubError, match="Cannot reach the Hub"):
        pull("alice/x")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        push("tiny", "alice/x", token=ALICE)
