"""Shared fixtures: user data in temp folders, and a tiny random Llama with the real SmolLM2 tokenizer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.persona_fixtures import POSTS  # noqa: F401 (the tests import it from here)

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"
KOUME_CSV = FIXTURES / "koume-dayuu-tweets.csv"



@pytest.fixture(autouse=True)
def _user_folders(tmp_path, monkeypatch):
    """Every test gets its own registry; nothing touches the user's personas/ or the network."""
    monkeypatch.setenv("PERSONAS_DIR", str(tmp_path / "personas"))


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """One model cache for the session (the bundled model is converted at most once per run); nothing reaches
    the network, and no evaluation runs after a training unless a test asks (evaluate=True). Session-wide,
    so that module-scoped fixtures that train see it too."""
    cache = os.environ.get("STUDIO_TEST_CACHE") or str(tmp_path_factory.mktemp("cache"))
    os.environ.update(STUDIO_CACHE=cache, HF_HUB_OFFLINE="1", STUDIO_EVALUATE="0")
    yield


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama (hidden 64, 2 layers) saved with SmolLM2's real tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from studio.models import bundled_gguf

    gguf = bundled_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def posts_file(tmp_path) -> Path:
    path = tmp_path / "posts.txt"
    path.write_text("\n".join(POSTS) + "\n", encoding="utf-8")
    return path


# The session's shared personas (each trained once per run, copied into a test's own registry by its fixture).
from tests.persona_fixtures import tiny_persona, tiny_persona_source  # noqa: E402,F401
from tests.planted import parrot, planted_source  # noqa: E402,F401
