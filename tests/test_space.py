"""Running as a Hugging Face Space: the README front matter, where the registry lives, ZeroGPU, training."""

import sys
import types
from pathlib import Path

import gradio
import pytest
import yaml

from studio import config, space
from studio.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_readme_starts_with_the_space_front_matter():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n", 2)[1])
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert (ROOT / meta["app_file"]).is_file() and meta["app_file"] == "app.py"
    assert str(meta["python_version"]) == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert 0 < len(meta["short_description"]) <= 60  # the Hub's limit
    assert meta["title"]


def test_registry_in_persistent_storage_only_when_it_exists_and_not_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("PERSONAS_DIR")
    monkeypatch.setattr(config, "SPACE_STORAGE", tmp_path / "missing")
    assert config.personas_dir() == Path("personas")
    monkeypatch.setattr(config, "SPACE_STORAGE", tmp_path)  # a Space with persistent storage
    assert config.personas_dir() == tmp_path / "personas"
    from studio.persona.registry import PersonaRegistry

    assert PersonaRegistry().root == tmp_path / "personas"
    monkeypatch.setenv("PERSONAS_DIR", str(tmp_path / "mine"))
    assert config.personas_dir() == tmp_path / "mine"


def test_gpu_decorator_only_when_spaces_is_importable(monkeypatch):
    def handler():
        yield "x"

    monkeypatch.setitem(sys.modules, "spaces", None)  # not installed: the function itself
    assert space.gpu(handler) is handler
    calls = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda duration: (lambda fn: calls.append((fn, duration)) or fn)
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert space.gpu(handler) is handler and calls == [(handler, space.GPU_SECONDS)]


def test_training_disabled_on_zero_gpu_and_cpu_spaces(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert space.training_disabled_reason() is None
    space.check_training_allowed()
    monkeypatch.setenv("SPACE_ID", "alice/persona-studio")
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    with pytest.raises(ConfigError, match="disabled on this ZeroGPU Space.*pull the persona from the Hub"):
        space.check_training_allowed()
    monkeypatch.delenv("SPACES_ZERO_GPU")
    monkeypatch.setattr("studio.models.cuda_available", lambda: False)
    assert "no GPU" in space.training_disabled_reason()
    monkeypatch.setattr("studio.models.cuda_available", lambda: True)
    assert space.training_disabled_reason() is None
    monkeypatch.setattr("studio.models.cuda_available", lambda: False)
    monkeypatch.setenv("STUDIO_ALLOW_TRAINING", "1")
    assert space.training_disabled_reason() is None
