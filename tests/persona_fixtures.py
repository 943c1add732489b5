"""A tiny trained persona (2 LoRA steps on the tiny random Llama), trained once per session and
copied into each test's own registry. tests/conftest.py makes the fixtures every test module's (never import them into a
module: that would train a second copy)."""

from __future__ import annotations

import shutil

import pytest

from studio.persona.gate import GateConfig
from studio.training.config import TrainConfig
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry

POSTS = [
    "Coffee first, then code. Always in that order.",
    "Shipped a tiny fix today and it felt great.",
    "Rainy Sunday, perfect for reading about parsers.",
    "今日はいい天気ですね。散歩に行きます。",
    "Why does every build break on a Friday?",
    "New blog post soon: small tools that do one thing well.",
    "チクショー！！",
    "Trying a new keyboard layout. Send help.",
]
LANGS = ["en", "en", "en", "ja", "en", "en", "ja", "en"]
CONSENT = "Tiny agreed in writing on 2026-12-01 to a public persona"
GATE = GateConfig(prompts=4, max_new_tokens=16, extraction_posts=8)  # the gate's sample kept small on the tiny model


@pytest.fixture(scope="session")
def tiny_persona_source(tiny_model_dir, tmp_path_factory):
    """A registry folder holding the persona 'Tiny' (two steps: enough for real, non-zero LoRA weights)."""
    from studio.evaluation.gate import run_gate
    from studio.training.run import train_persona

    root = tmp_path_factory.mktemp("tiny-personas")
    posts = [Post(text, created_at=f"2024-0{1 + i % 9}-1{i % 9}T10:00:00Z", lang=lang)
             for i, (text, lang) in enumerate(zip(POSTS, LANGS))]
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=2, eval_steps=0, learning_rate=5e-3, seed=0, evaluate=False,
                         consent=CONSENT)
    train_persona(posts, "Tiny", config, registry=PersonaRegistry(root))
    run_gate("tiny", GATE, PersonaRegistry(root))  # a passed publish gate record: push and export need one
    return root


def copy_in(source, slug: str):
    """Persona `slug` of the session's registry folder `source`, copied into this test's registry ($PERSONAS_DIR)."""
    registry = PersonaRegistry()
    registry.root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / slug, registry.root / slug)
    return registry.get(slug)


@pytest.fixture
def tiny_persona(tiny_persona_source):
    """The registry of this test ($PERSONAS_DIR) with a copy of 'Tiny' in it."""
    return copy_in(tiny_persona_source, "tiny")
