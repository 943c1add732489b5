"""The arena's batched engine on the tiny model: one generate for every pane, each row routed to its own
adapter with its own settings and seed, checked against models loaded independently of the engine."""

import threading

import pytest
import torch

from studio.chat.arena import Pane, arena_stream
from studio.chat.engine import BASE, ChatEngine, Row
from studio.chat.targets import chat_targets
from studio.chat.config import GenerationConfig
from studio.chat.generate import BASE_ADAPTER
from studio.evaluation.generate import generate
from studio.training.config import TrainConfig
from studio.chat_format import chat_messages
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona
from tests.conftest import POSTS


@pytest.fixture(scope="module")
def arena(tiny_model_dir, tmp_path_factory):
    registry = PersonaRegistry(tmp_path_factory.mktemp("personas"))
    for name, seed, posts in (("Alpha", 0, POSTS[:6]), ("Beta", 1, POSTS[2:])):
        config = TrainConfig(base_model=str(tiny_model_dir), max_steps=12, learning_rate=2e-2, batch_size=4, seed=seed,
                             replay_share=0.0)  # two voices of their own: no replay pulling both to the base's
        train_persona([Post(p) for p in posts], name, config, registry=registry)
    return registry, ChatEngine(str(tiny_model_dir))


@pytest.fixture(scope="module")
def peft_engine(tiny_model_dir):
    """The same engine with PEFT's own per-row `adapter_names` path instead of the fused LoRA deltas."""
    return ChatEngine(str(tiny_model_dir), fused_lora=False)


# three panes with different prompts and histories, so rows have different lengths (left padding is exercised)
PANES = [
    (None, "You are a test.", [], "hello"),
    ("alpha", "Answer in plain form.", [("hi", "yo")], "hello"),
    ("beta", "S", [("first question here, long", "a long first answer"), ("again", "ok")], "hello"),
]


def reference(model_dir, persona, messages, settings: GenerationConfig, seed: int) -> str:
    """What that adapter (or the bare base) produces alone: a fresh model, plain `generate`, batch of one."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if persona is not None:
        model = PeftModel.from_pretrained(model, str(persona.adapter_dir))
    model.eval()
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    kwargs = dict(max_new_tokens=settings.max_new_tokens, repetition_penalty=settings.repetition_penalty,
                  no_repeat_ngram_size=settings.no_repeat_ngram_size, pad_token_id=tokenizer.pad_token_id)
    if settings.sampling:
        kwargs.update(do_sample=True, temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p)
    else:
        kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(**inputs, **kwargs)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def rows_for(registry, settings_list):
    return [Row(registry.get(t) if t else None, chat_messages(s, m, h), st, st.seed)
            for (t, s, h, m), st in zip(PANES, settings_list)]


@pytest.mark.parametrize("path", ["fused", "peft"])
@pytest.mark.parametrize("mode", ["greedy", "sampled"])
def test_one_batch_equals_each_model_alone(arena, peft_engine, tiny_model_dir, mode, path, monkeypatch):
    registry, engine = arena
    engine = engine if path == "fused" else peft_engine
    if mode == "greedy":
        settings = [GenerationConfig(max_new_tokens=n, greedy=True) for n in (10, 14, 12)]
    else:  # every row its own temperature, top-k, top-p, penalties and seed
        settings = [GenerationConfig(max_new_tokens=12, temperature=1.3, top_k=0, top_p=1.0, seed=11),
                    GenerationConfig(max_new_tokens=12, temperature=1.0, top_k=40, top_p=0.95, seed=22,
                                     repetition_penalty=1.3, no_repeat_ngram_size=2),
                    GenerationConfig(max_new_tokens=12, temperature=0.9, top_k=100, top_p=0.9, seed=33)]
    rows = rows_for(registry, settings)
    for row in rows[1:]:
        engine._adapter_for(row.persona)  # loaded once; a no-op after the first test
    calls, generate = [], engine.model.generate
    monkeypatch.setattr(engine.model, "generate", lambda *a, **k: calls.append(k.get("adapter_names")) or generate(*a, **k))
    batched = list(engine.stream_batch(rows))[-1]
    assert len(calls) == 1, "one generate call for all three panes"
    names = calls[0] if path == "peft" else next(k for k in engine._fused._cache if len(set(k)) == 3)
    assert names[0] == "__base__" and len(set(names)) == 3, "each row names its own adapter"
    expected = [reference(tiny_model_dir, r.persona, r.messages, s, s.seed or 0) for r, s in zip(rows, settings)]
    assert batched == expected
    assert len(set(expected)) == 3, "base and the two personas answer differently, so routing is tested"


def test_evaluation_replies_come_from_the_chat_decoder(arena, monkeypatch):
    """The evaluation's `generate` and the chat engine run the one batched generation (studio.chat.generate):
    the same greedy rows get the same replies from both, bare model and adapters alike. (With the evaluation's
    own settings, no n-gram ban, the tiny random model only repeats a newline.)"""
    from studio.chat import generate as batched

    registry, engine = arena
    settings = GenerationConfig(max_new_tokens=12, greedy=True)
    rows = rows_for(registry, [settings] * 3)
    chat = list(engine.stream_batch(rows))[-1]
    with engine.exclusive(registry.get("beta")) as (_, _, beta):
        pass
    calls, generate_rows = [], batched.generate_rows
    monkeypatch.setattr("studio.evaluation.generate.generate_rows", lambda *a, **k: calls.append(k) or generate_rows(*a, **k))
    with engine.exclusive(registry.get("alpha")) as (model, tokenizer, alpha):
        replies = generate(model, tokenizer, [r.messages for r in rows], [BASE_ADAPTER, alpha, beta], settings, batch_size=2)
    assert calls and all(k["fast_draw"] for k in calls)
    assert replies == [text.strip() for text in chat]
    assert len(set(replies)) == 3, "base and the two personas answer differently, so routing is tested"


def test_switching_personas_never_reloads_weights(arena):
    registry, engine = arena
    greedy = GenerationConfig(max_new_tokens=3, greedy=True)
    list(engine.stream_batch(rows_for(registry, [greedy] * 3)))
    base = engine.model.get_base_model()
    layer = next(m for m in engine.model.modules() if hasattr(m, "lora_A") and len(m.lora_A))
    weights = {name: layer.lora_A[name].weight for name in layer.lora_A}
    for order in (["beta", "alpha", None], [None, None, "alpha"], ["alpha", "alpha", "beta"]):
        rows = [Row(registry.get(t) if t else None, chat_messages("S", "hi"), greedy, 0) for t in order]
        list(engine.stream_batch(rows))
    assert engine.model.get_base_model() is base
    assert {name: layer.lora_A[name].weight for name in layer.lora_A} == weights  # same tensor objects
    assert all(layer.lora_A[n].weight is w for n, w in weights.items())
    assert len(engine.model.peft_config) == 2, "each adapter loaded once"


def test_arena_stream_notes_and_stop(arena, tiny_model_dir, monkeypatch):
    registry, engine = arena
    monkeypatch.setenv("STUDIO_BASE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("PERSONAS_DIR", str(registry.root))
    from studio.chat import engine as chat

    monkeypatch.setitem(chat._engines, str(tiny_model_dir), engine)
    assert [v for _, v in chat_targets(registry)] == [BASE, "alpha", "beta"]
    panes = [Pane(BASE, settings=GenerationConfig(max_new_tokens=6, greedy=True)),
             Pane("alpha", settings=GenerationConfig(max_new_tokens=6, seed=5))]
    updates = [[(r.target, r.text, r.note) for r in u] for u in arena_stream("hi", panes, registry)]
    assert updates[0][0][2] == "one batch with pane 2, greedy" and updates[0][1][2] == "one batch with pane 1, seed 5"
    assert all(text for _, text, _ in updates[-1])
    stop = threading.Event()
    long = [Pane(BASE, settings=GenerationConfig(max_new_tokens=200, greedy=True, no_repeat_ngram_size=0,
                                                 repetition_penalty=1.0))]
    seen = 0
    for seen, update in enumerate(arena_stream("hi", long, registry, stop=stop)):
        if seen == 2:
            stop.set()
    assert seen < 10, "Stop ends the generation within a step"


def test_concurrent_users_never_change_each_others_adapter(arena, monkeypatch):
    """Six users at once (base, alpha, beta, twice each): every reply equals that target's reply alone,
    and waiting calls share batches (fewer generates than calls)."""
    registry, engine = arena
    greedy = GenerationConfig(max_new_tokens=10, greedy=True)
    rows = {t: Row(registry.get(t) if t else None, chat_messages("S", "hello"), greedy, 0) for t in (None, "alpha", "beta")}
    alone = {t: list(engine.stream_batch([row]))[-1][0] for t, row in rows.items()}
    results, calls, generate = {}, [], engine.model.generate
    monkeypatch.setattr(engine.model, "generate", lambda *a, **k: calls.append(k["input_ids"].shape[0]) or generate(*a, **k))

    def user(target, k):
        results[target, k] = list(engine.stream_batch([rows[target]]))[-1][0]

    threads = [threading.Thread(target=user, args=(t, k)) for k in range(2) for t in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(text == alone[t] for (t, _), text in results.items())
    assert sum(calls) == 6 and len(calls) < 6, calls
    assert len(set(alone.values())) == 3
