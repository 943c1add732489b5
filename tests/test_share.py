"""Model card, export/import .zip (with hostile archives) and the Character Card V2 export."""

import json
import zipfile

import pytest
import yaml
from huggingface_hub import ModelCard

from studio.persona.card import build_card, write_card
from studio.errors import InputError, ModelError, PersonaError
from studio.persona.registry import PersonaRegistry
from studio.persona.share import character_card, export_zip, import_zip
from tests.conftest import POSTS


def _meta(text: str) -> dict:
    return yaml.safe_load(text.split("---")[1])


def test_card_written_at_train_time_with_metadata_and_report(tiny_persona):
    card = ModelCard.load(tiny_persona.path / "README.md")  # written by train_persona
    assert card.data.library_name == "peft" and card.data.base_model == tiny_persona.base_model["id"]
    assert {"lora", "persona-studio"} <= set(card.data.tags) and card.data.license == "other"
    text = card.text
    assert "| setting | value |" in text and "| max steps | 2 |" in text and "imitates" in text
    assert "Date range: 2024-01-10 to 2024-08-17" in text and "Languages: en (6), ja (2)" in text
    assert "do not present its output as that person's words" in text.lower().replace("**", "")
    assert not any(post in text for post in POSTS), "no raw posts unless asked"
    assert "## Evaluation" not in text
    snippet = text.split("```python")[1].split("```")[0].strip().splitlines()
    assert len(snippet) == 5 and "PeftModel.from_pretrained" in snippet[3]


def test_card_license_follows_bundled_base_and_renders_evaluation(tiny_persona):
    registry = PersonaRegistry()
    persona = registry.update("tiny", base_model={"spec": "bundled", "id": "HuggingFaceTB/SmolLM2-135M-Instruct"},
                              evaluation={"summary": "Style match 0.71, memorised 2 %.",
                                          "markdown": "| metric | value |\n|---|---|\n| style | 0.71 |"})
    path = write_card(persona, registry)
    text = path.read_text()
    assert _meta(text)["license"] == "apache-2.0" and _meta(text)["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "## Evaluation\n\nStyle match 0.71, memorised 2 %.\n\n| metric | value |" in text
    assert str(build_card(persona)) == text


def test_export_import_round_trip(tiny_persona, tmp_path, tiny_model_dir):
    archive = export_zip("tiny", tmp_path / "out")
    assert archive.name == "tiny.zip"
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"persona.json", "README.md", "adapter/adapter_config.json", "adapter/adapter_model.safetensors",
            "data/train.jsonl"} <= names
    imported = import_zip(archive, name="Tiny Copy")
    assert imported.slug == "tiny-copy" and imported.system_prompt == tiny_persona.system_prompt
    for file in ("adapter/adapter_model.safetensors", "data/train.jsonl", "README.md"):
        assert (imported.path / file).read_bytes() == (tiny_persona.path / file).read_bytes()
    with pytest.raises(PersonaError, match="already exists"):
        import_zip(archive, name="Tiny Copy")
    again = import_zip(archive, name="Tiny Copy", overwrite=True)  # a new version, the old one kept
    assert again.version == 2 and [p.version for p in PersonaRegistry().versions("tiny-copy")] == [2, 1]


def _zip(tmp_path, files: dict, name="bad.zip", symlink=None) -> str:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
    return str(path)


@pytest.fixture
def good_files(tiny_persona):
    return {name: (tiny_persona.path / name).read_bytes() for name in
            ("persona.json", "adapter/adapter_config.json", "adapter/adapter_model.safetensors")}


@pytest.mark.parametrize("change, message", [
    (lambda f: f.update({"../evil.txt": b"x"}), "path traversal"),
    (lambda f: f.update({"/etc/cron.d/x": b"x"}), "path traversal"),
    (lambda f: f.update({"adapter/adapter_model.bin": b"\x80\x04pickle"}), "pickle file"),
    (lambda f: f.update({"adapter/run.py": b"import os"}), "unexpected file"),
    (lambda f: f.update({"data/train.jsonl": b"\0" * (50 * 2**20)}), "zip bomb"),
    (lambda f: f.pop("adapter/adapter_model.safetensors"), "no adapter/adapter_model.safetensors"),
    (lambda f: f.update({"adapter/adapter_model.safetensors": b"\xff" * 64}), "not a valid safetensors"),
    (lambda f: f.update({"adapter/adapter_config.json": b'{"peft_type": "IA3"}'}), "not a LoRA adapter"),
    (lambda f: f.update({"persona.json": b'{"name": "x", "schema_version": 99}'}), "schema_version 99"),
    (lambda f: f.update({"persona.json": b"{oops"}), "not valid JSON"),
])
def test_hostile_or_broken_archives_refused_before_writing(tmp_path, good_files, change, message):
    change(good_files)
    with pytest.raises(InputError, match=message):
        import_zip(_zip(tmp_path, good_files), name="evil")
    assert not PersonaRegistry().exists("evil")
    assert not [p for p in PersonaRegistry().root.iterdir() if p.name.startswith(".staging")]


def test_symlink_size_limit_and_unknown_base_refused(tmp_path, good_files, monkeypatch):
    with pytest.raises(InputError, match="symbolic link"):
        import_zip(_zip(tmp_path, good_files, symlink="data/train.jsonl"), name="evil")
    monkeypatch.setenv("STUDIO_MAX_IMPORT_MB", "0.001")
    with pytest.raises(InputError, match="STUDIO_MAX_IMPORT_MB"):
        import_zip(_zip(tmp_path, good_files), name="evil")
    monkeypatch.delenv("STUDIO_MAX_IMPORT_MB")
    manifest = json.loads(good_files["persona.json"])
    manifest["base_model"] = {"spec": "/nowhere/model", "id": "/nowhere/model"}
    good_files["persona.json"] = json.dumps(manifest).encode()
    with pytest.raises(ModelError, match="cannot be found here.*--base FOLDER"):
        import_zip(_zip(tmp_path, good_files), name="evil")
    with pytest.raises(InputError, match="not a .zip"):
        import_zip(_write(tmp_path / "x.zip", b"not a zip"))
    assert PersonaRegistry().list() == [PersonaRegistry().get("tiny")]


def _write(path, data):
    path.write_bytes(data)
    return path


def test_character_card_v2(tiny_persona):
    PersonaRegistry().update("tiny", hub={"repo": "alice/tiny"})
    card = character_card("tiny")
    assert card["spec"] == "chara_card_v2" and card["spec_version"] == "2.0"
    data = card["data"]
    assert data["name"] == "Tiny" and data["system_prompt"] == tiny_persona.system_prompt
    examples = [block.split("{{char}}: ")[1].strip() for block in data["mes_example"].split("<START>\n")[1:]]
    assert len(examples) == 4 and all(example in POSTS for example in examples)
    assert "Persona Studio" in data["creator_notes"] and "8 real posts" in data["creator_notes"]
    assert data["extensions"]["persona_studio"]["adapter_repo"] == "alice/tiny"
