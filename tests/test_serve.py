"""`python -m studio serve` for real: vLLM's own environment (made once, reused from
$STUDIO_VLLM_ENV or ~/.cache/persona-studio/vllm-env; about 5 min the first time), one server on a free loopback
port for the whole module, a tiny Llama with two personas. Greedy replies through the server equal the local
engine's; a persona trained while it runs is served without a restart; a stopped server is a clear error in the
Chat tab. Marked `serve` (deselect with -m "not serve")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from studio.chat.arena import Pane, arena_stream
from studio.chat.config import GenerationConfig
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.config import TrainConfig
from tests.conftest import POSTS
from tests.test_browser import ROOT, free_port

pytestmark = pytest.mark.serve
VLLM_ENV = os.environ.get("STUDIO_VLLM_ENV") or str(Path("~/.cache/persona-studio/vllm-env").expanduser())
GREEDY = GenerationConfig(greedy=True, max_new_tokens=24, no_repeat_ngram_size=0)  # the n-gram ban is local only
MESSAGE = "How was your day?"


def _train(model: Path, root: Path, name: str, seed: int = 0) -> None:
    from studio.training.run import train_persona

    posts = [Post(text, created_at=f"2024-01-1{i}T10:00:00Z", lang="en") for i, text in enumerate(POSTS)]
    config = TrainConfig(base_model=str(model), max_steps=3, eval_steps=0, learning_rate=3e-2, seed=seed)
    train_persona(posts, name, config, registry=PersonaRegistry(root))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny Llama vLLM's CPU kernels take (head size 64; weights at std 0.1 so that replies vary with the
    prompt) with SmolLM2's tokenizer, and a registry with 'Ann' and 'Bob' trained on it."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from studio.models import bundled_gguf

    folder = tmp_path_factory.mktemp("serve")
    gguf = bundled_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512, initializer_range=0.1,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder / "model")
    tokenizer.save_pretrained(folder / "model")
    for name in ("Ann", "Bob"):
        _train(folder / "model", folder / "personas", name)
    return folder


@pytest.fixture(scope="module")
def server(world):
    """`python -m studio serve` in its own process (making vLLM's environment first if it is missing); yields
    (process, URL, log path) once the URL answers; stopped with SIGINT (Ctrl-C) at the end if still running."""
    port = free_port()
    log_path = world / "serve.log"
    env = {**os.environ, "PERSONAS_DIR": str(world / "personas"), "STUDIO_BASE_MODEL": str(world / "model"),
           "STUDIO_VLLM_ENV": VLLM_ENV, "HF_HUB_OFFLINE": "1"}
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "studio", "serve", "--port", str(port), "--poll-seconds", "1"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 1800  # the first run installs vLLM (minutes), then the server loads (about a minute)
    while "Serving on" not in log_path.read_text():
        assert process.poll() is None and time.time() < deadline, log_path.read_text()[-3000:]
        time.sleep(1)
    yield process, url, log_path
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(120)


@pytest.fixture
def registry(world, monkeypatch):
    """The server's registry, and its base model as this process's default (the local engine's 'base')."""
    monkeypatch.setenv("PERSONAS_DIR", str(world / "personas"))
    monkeypatch.setenv("STUDIO_BASE_MODEL", str(world / "model"))
    return PersonaRegistry(world / "personas")


def served(url: str) -> list[str]:
    return sorted(m["id"] for m in httpx.get(f"{url}/models", timeout=30).json()["data"])


def replies(targets, registry, engine: str, settings: GenerationConfig = GREEDY) -> dict[str, str]:
    last = list(arena_stream(MESSAGE, [Pane(t, None, settings) for t in targets], registry, engine=engine))[-1]
    return {r.target: r.text for r in last}


def test_greedy_replies_through_the_server_equal_the_local_engine(server, registry):
    _, url, _ = server
    assert served(url) == ["ann", "base", "bob"]
    remote, local = replies(["base", "ann", "bob"], registry, url), replies(["base", "ann", "bob"], registry, "local")
    assert remote == local
    assert all(remote.values()) and len(set(remote.values())) == 3  # real tokens; each adapter changes the reply


def test_pane_notes_say_what_the_server_cannot_honour(server, registry):
    _, url, _ = server
    updates = list(arena_stream(MESSAGE, [Pane("ann", None, GenerationConfig(max_new_tokens=12, seed=7))], registry,
                                engine=url))
    note = updates[-1][0].note
    assert f"server {url}" in note and "seed 7" in note and "Not honoured by the server: no-repeat n-gram size 4" in note
    assert len(updates) > 3  # streamed: a yield per piece, not one whole reply


def test_a_duel_through_the_server_equals_the_local_one(server, registry):
    from studio.chat.arena import duel_stream

    _, url, _ = server
    remote, local = (list(duel_stream("ann", "bob", "Hi Bob!", 2, GREEDY, registry=registry, engine=engine))[-1]
                     for engine in (url, "local"))
    assert remote == local and [who for who, _ in remote] == ["ann", "bob", "ann"] and all(t for _, t in remote)


def test_a_persona_trained_while_it_runs_is_served_without_a_restart(server, world, registry):
    process, url, log_path = server
    _train(world / "model", world / "personas", "Cid", seed=1)
    deadline = time.time() + 120
    while "cid" not in served(url):
        assert time.time() < deadline, log_path.read_text()[-2000:]
        time.sleep(0.5)
    assert replies(["cid"], registry, url) == replies(["cid"], registry, "local")
    registry.delete("bob")
    while "bob" in served(url):
        assert time.time() < deadline, log_path.read_text()[-2000:]
        time.sleep(0.5)
    assert process.poll() is None and "[serve] loaded cid" in log_path.read_text()


def test_a_stopped_server_is_a_clear_error_in_the_chat_tab(server, registry):
    import gradio as gr

    from studio.ui import chat_tab
    from studio.ui.chat_panes import MAX_PANES, SETTINGS, new_state

    process, url, _ = server
    process.send_signal(signal.SIGINT)  # Ctrl-C
    assert process.wait(120) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.removesuffix("/v1") + "/health", timeout=5)
    pane = ["ann", "Be brief.", *(getattr(GREEDY, name) for name in SETTINGS)]
    outputs = []
    with pytest.raises(gr.Error, match="does not answer.*python -m studio serve"):
        for out in chat_tab.send(MESSAGE, 2, new_state(), *pane * MAX_PANES, url):
            outputs.append(out)
    notes = outputs[-1][-MAX_PANES:]
    assert "does not answer" in notes[0] and "does not answer" in notes[1]
    assert outputs[-1][1]["histories"][0] == []  # the unanswered message is taken back out
