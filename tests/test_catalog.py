"""The base-model catalog (studio.catalog): the bundled model, a local folder, $STUDIO_MODELS_DIR, a Hugging Face
cache laid out as huggingface_hub writes it (with a real tiny model's files), a Hub id; parameter counts from the
config against the real model's, sizes, licences, templates, memory fit; bad inputs; the `models` command."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.catalog import describe, entries
from studio.catalog.memory import Machine, Workload
from studio.errors import ModelError
from studio.models import bundled_gguf
from studio.training.config import TrainConfig
from tests.test_hub import hub  # noqa: F401  (the stand-in Hub fixture)

ROOT = Path(__file__).resolve().parent.parent
SMALL = Machine(ram_available=10**6, ram_total=10**6)  # 1 MB: nothing fits
GPU = Machine(ram_available=64 * 10**9, ram_total=64 * 10**9, gpu_name="test GPU", gpu_total=80 * 10**9, gpu_free=80 * 10**9)


def fake_hub_cache(root: Path, repo_id: str, files: dict[str, Path], commit: str = "a" * 40) -> Path:
    """A model repo in a Hugging Face cache as huggingface_hub writes one: blobs named by hash, refs/main, and a
    snapshot of links to the blobs."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name, source in files.items():
        data = source.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    return snapshot


def real_parameters(folder: Path) -> int:
    from transformers import AutoModelForCausalLM

    return sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(folder).parameters())


def test_the_estimate_is_for_the_training_defaults():
    defaults = TrainConfig()
    assert Workload() == Workload(**{name: getattr(defaults, name) for name in Workload.__dataclass_fields__})
    assert Workload().tokens() == 1024  # 4 rows of 256 tokens in one pass (max_batch_tokens 1024)
    from studio.catalog import memory
    from studio.training import losses
    assert memory.LOGITS_BYTES == losses.LOGITS_BYTES  # the bound of the estimate's logits term is the loss's own


def test_the_bundled_model_without_converting_it():
    entry = describe("bundled", here=GPU)
    assert entry.source == "bundled" and entry.model_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert entry.params == 134_515_008  # SmolLM2-135M with tied embeddings, counted on the meta device
    assert entry.disk_bytes == bundled_gguf().stat().st_size and entry.licence == "apache-2.0" and entry.chat_template
    cpu, gpu, qlora = entry.fits
    assert (cpu.mode, gpu.mode, qlora.mode) == ("cpu-lora", "gpu-lora", "gpu-qlora")
    assert 1.5e9 < cpu.need < 3.0e9  # measured peak on the Japanese fixture: README "Choosing the base model"
    assert qlora.need < gpu.need < cpu.need and all(f.fits for f in entry.fits)
    assert "fp32 folder" in entry.note


def test_a_local_folder_counts_the_real_models_parameters(tiny_model_dir, tmp_path):
    entry = describe(str(tiny_model_dir), here=SMALL)
    assert entry.source == "folder" and entry.spec == str(tiny_model_dir.resolve())
    assert entry.params == real_parameters(tiny_model_dir)
    assert entry.disk_bytes == sum(p.stat().st_size for p in tiny_model_dir.iterdir())
    assert entry.chat_template and entry.licence == "unknown" and entry.architecture == "LlamaForCausalLM"
    assert [f.fits for f in entry.fits] == [False, None, None]  # 1 MB of RAM; no GPU in SMALL
    assert "too big" in entry.fits[0].describe() and "no CUDA GPU here" in entry.fits[1].describe()
    card = tmp_path / "with-card"
    shutil.copytree(tiny_model_dir, card)
    (card / "README.md").write_text("---\nlicense: mit\nlanguage: [en]\n---\n# A tiny model\n")
    assert describe(str(card)).licence == "mit"
    config = json.loads((card / "config.json").read_text())
    (card / "config.json").write_text(json.dumps({**config, "license": "llama3.2"}))
    assert describe(str(card)).licence == "llama3.2"  # the config's own licence first


def test_lora_parameters_are_what_peft_creates(tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from studio.catalog.memory import model_shape
    from transformers import AutoConfig

    shape = model_shape(AutoConfig.from_pretrained(tiny_model_dir), Workload())
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=Workload().rank, target_modules="all-linear", task_type="CAUSAL_LM"))
    assert shape.lora_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert shape.lora_layers == 2  # the tiny model has 2 layers, fewer than lora_layers: all of them


def test_models_dir_and_the_hugging_face_cache(tiny_model_dir, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny").symlink_to(tiny_model_dir)
    (models / "notes").mkdir()  # not a model: not listed
    cache = tmp_path / "hub"
    files = {p.name: p for p in tiny_model_dir.iterdir()}
    snapshot = fake_hub_cache(cache, "tiny-org/tiny-llama", files)
    fake_hub_cache(cache, "tiny-org/config-only", {"config.json": tiny_model_dir / "config.json"})
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(models))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    listed, left_out = entries()
    by_spec = {e.spec: e for e in listed}
    assert by_spec["bundled"].source == "bundled"
    assert by_spec[str(tiny_model_dir.resolve())].source == "folder"
    assert by_spec["tiny-org/tiny-llama"].source == "hf-cache" and by_spec["tiny-org/tiny-llama"].path == snapshot
    assert "tiny-org/config-only" not in by_spec
    assert any("tiny-org/config-only" in p and "safetensors" in p for p in left_out)
    cached = describe("tiny-org/tiny-llama")
    assert cached.source == "hf-cache" and cached.model_id == "tiny-org/tiny-llama"
    assert cached.params == real_parameters(tiny_model_dir) and cached.chat_template
    assert cached.disk_bytes == sum(p.stat().st_size for p in files.values())  # the links followed to their blobs
    assert "HF cache: tiny-org/tiny-llama" == cached.label


@pytest.mark.parametrize("make, words", [
    (lambda tmp: tmp / "missing", "no such folder"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "no config.json"),
])
def test_bad_folders_say_what_is_wrong(tmp_path, make, words):
    with pytest.raises(ModelError, match=words):
        describe(str(make(tmp_path)))


def test_a_folder_without_safetensors_is_refused(tiny_model_dir, tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    shutil.copy(tiny_model_dir / "config.json", folder)
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError, match="no \\*.safetensors weights .*never loaded"):
        describe(str(folder))
    listed, left_out = entries([str(folder)])
    assert str(folder) not in {e.spec for e in listed} and any("pickle" in p for p in left_out)


def test_a_hub_id_not_cached_offline_and_a_spec_that_is_neither(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError, match="not in the Hugging Face cache and the Hub cannot be reached .offline.") as err:
        describe("someone/not-cached-model")
    assert "hf download someone/not-cached-model" in str(err.value) and "'bundled'" in str(err.value)
    with pytest.raises(ModelError, match="neither a model folder here nor a Hub id"):
        describe("not a model")


def test_a_hub_id_online_reads_only_its_config_and_card(hub, tiny_model_dir, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    weights = (tiny_model_dir / "model.safetensors").read_bytes()
    hub.add_repo("owner/remote-tiny", {"config.json": (tiny_model_dir / "config.json").read_bytes(), "model.safetensors": weights,
                                        "README.md": b"---\nlicense: apache-2.0\n---\n# Remote tiny\n"})
    entry = describe("owner/remote-tiny")
    assert entry.source == "hub" and entry.licence == "apache-2.0" and entry.params == real_parameters(tiny_model_dir)
    assert entry.disk_bytes is None and f"{len(weights) / 1e6:,.0f} MB of safetensors" in entry.note
    fetched = {r["path"].rsplit("/", 1)[-1] for r in hub.requests if "/resolve/" in r["path"]}
    assert fetched == {"config.json", "README.md"}  # the weights stay on the Hub until training
    with pytest.raises(ModelError, match="not found on the Hub, private or gated"):
        describe("owner/no-such-model")


def test_models_command_prints_the_table(tiny_model_dir, tmp_path):
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    out = subprocess.run([sys.executable, "-m", "studio", "models", "--path", str(tiny_model_dir), "--hub", "a/not-cached"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("this machine:") and "GB RAM available" in lines[0]
    assert "CPU LoRA fp32" in lines[1] and "GPU QLoRA 4-bit" in lines[1]
    bundled = next(line for line in lines if line.startswith("bundled "))
    assert "135M" in bundled and "apache-2.0" in bundled and "fits" in bundled
    tiny = next(line for line in lines if line.startswith(str(tiny_model_dir.resolve())))
    assert "folder" in tiny and "unknown" in tiny
    assert "error: a/not-cached: not in the Hugging Face cache" in out.stderr
