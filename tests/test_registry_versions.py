"""Versions, rename and concurrent writers in the persona registry (no model needed)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.errors import PersonaError
from studio.persona.registry import Persona, PersonaRegistry

ROOT = Path(__file__).resolve().parent.parent


def _make(registry, prompt, slug="koume", overwrite=True):
    with registry.create(Persona(name=slug.title(), slug=slug, base_model={"id": "x"}, system_prompt=prompt),
                         overwrite=overwrite) as staging:
        (staging / "adapter").mkdir()
        (staging / "adapter" / "adapter_model.safetensors").write_bytes(prompt.encode())


def test_retraining_keeps_versions_addressable_as_name_at_vn(tmp_path):
    registry = PersonaRegistry(tmp_path)
    for prompt in ("one", "two", "three"):
        _make(registry, prompt)
    assert [(p.slug, p.version, p.system_prompt) for p in registry.versions("koume")] == [
        ("koume", 3, "three"), ("koume@v2", 2, "two"), ("koume@v1", 1, "one")]
    v1 = registry.get("Koume@v1")
    assert v1.path == tmp_path / "koume" / "versions" / "1" and v1.name == "Koume"
    assert (v1.adapter_dir / "adapter_model.safetensors").read_bytes() == b"one"
    assert registry.get("koume@v3").path == tmp_path / "koume"  # the current one, by number
    assert [p.slug for p in registry.list()] == ["koume"]  # versions are not separate personas
    with pytest.raises(PersonaError, match="has no version v7 .*v3, v2, v1"):
        registry.get("koume@v7")


def test_restore_and_delete_version(tmp_path):
    registry = PersonaRegistry(tmp_path)
    for prompt in ("one", "two"):
        _make(registry, prompt)
    restored = registry.restore("koume", 1)
    assert restored.version == 1 and restored.system_prompt == "one" and restored.slug == "koume"
    assert (restored.adapter_dir / "adapter_model.safetensors").read_bytes() == b"one"
    assert [(p.version, p.system_prompt) for p in registry.versions("koume")] == [(1, "one"), (2, "two")]
    assert registry.get("koume").version == 1 and registry.get("koume@v2").system_prompt == "two"
    with pytest.raises(PersonaError, match="v1 is already the current version of 'koume'"):
        registry.restore("koume", 1)  # refused, not reported as a change
    with pytest.raises(PersonaError, match="current version"):
        registry.delete_version("koume", 1)
    registry.delete("koume@v2")
    assert [p.version for p in registry.versions("koume")] == [1]
    _make(registry, "three")  # numbering goes on after the highest ever kept
    assert [p.version for p in registry.versions("koume")] == [3, 1]


def test_rename_moves_versions_and_refuses_clashes(tmp_path):
    registry = PersonaRegistry(tmp_path)
    _make(registry, "one")
    _make(registry, "two")
    _make(registry, "x", slug="other")
    with pytest.raises(PersonaError, match="already exists"):
        registry.rename("koume", "Other")
    with pytest.raises(PersonaError):
        registry.rename("koume", "../evil")
    renamed = registry.rename("koume", "Koume Dayuu")
    assert renamed.slug == "koume-dayuu" and registry.get("koume-dayuu").name == "Koume Dayuu"
    assert registry.get("koume-dayuu@v1").system_prompt == "one"
    assert not registry.exists("koume")


def test_broken_version_listed_not_crashing(tmp_path):
    registry = PersonaRegistry(tmp_path)
    _make(registry, "one")
    _make(registry, "two")
    (tmp_path / "koume" / "versions" / "1" / "persona.json").write_text("{ broken")
    assert [p.version for p in registry.versions("koume")] == [2]
    assert any("v1 of koume" in problem for problem in registry.problems())


WRITER = """
import sys
from studio.persona.registry import Persona, PersonaRegistry
registry, who = PersonaRegistry(sys.argv[1]), sys.argv[2]
for i in range(15):
    if who == "trainer":
        with registry.create(Persona(name="Koume", slug="koume", base_model={"id": "x"}, system_prompt=str(i)),
                             overwrite=True) as staging:
            (staging / "adapter").mkdir()
    else:
        registry.update("koume", evaluation={"summary": f"{who} {i}"})
"""


def test_concurrent_writers_leave_a_valid_registry(tmp_path):
    """A retraining process and two processes editing the manifest, all at once: every write lands whole."""
    registry = PersonaRegistry(tmp_path)
    _make(registry, "start")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), who], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for who in ("trainer", "tab-a", "tab-b")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert registry.problems() == []
    versions = registry.versions("koume")
    assert [p.version for p in versions] == list(range(16, 0, -1))  # 15 retrainings, none lost
    for persona in versions:
        json.loads((persona.path / "persona.json").read_text())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".staging", ".restore", ".deleted"))]
