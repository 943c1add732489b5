"""Chat on the tiny model: real generated tokens, streaming, base and persona from one loaded model."""

import pytest

from studio.chat.engine import ChatEngine
from studio.chat.targets import reply
from studio.chat.config import GenerationConfig
from studio.training.config import TrainConfig
from studio.errors import PersonaError
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona
from tests.conftest import POSTS

GREEDY = GenerationConfig(max_new_tokens=12, temperature=0)


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory):
    registry = PersonaRegistry(tmp_path_factory.mktemp("personas"))
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=40, learning_rate=1e-2, batch_size=4)
    train_persona([Post(p) for p in POSTS], "Chatty", config, registry=registry)
    return registry, ChatEngine(str(tiny_model_dir))


def test_stream_yields_growing_text_of_real_tokens(setup):
    registry, engine = setup
    chunks = list(engine.stream(None, "hello", "You are a test.", settings=GREEDY))
    assert len(chunks) > 1 and all(b.startswith(a) for a, b in zip(chunks, chunks[1:]))
    ids = engine.tokenizer(chunks[-1], add_special_tokens=False)["input_ids"]
    assert 0 < len(ids) <= 12 + 2


def test_base_and_persona_share_one_model_and_differ(setup):
    registry, engine = setup
    persona = registry.get("chatty")
    model_before = id(engine.model.get_base_model()) if hasattr(engine.model, "get_base_model") else id(engine.model)
    base_1 = list(engine.stream(None, "hello", "S", settings=GREEDY))[-1]
    persona_1 = list(engine.stream(persona, "hello", "S", settings=GREEDY))[-1]
    base_2 = list(engine.stream(None, "hello", "S", settings=GREEDY))[-1]
    persona_2 = list(engine.stream(persona, "hello", "S", settings=GREEDY))[-1]
    assert base_1 == base_2 and persona_1 == persona_2, "greedy answers are stable across switches"
    assert base_1 != persona_1, "the persona's adapter changes the answer"
    assert id(engine.model.get_base_model()) == model_before or model_before == id(engine.model.get_base_model())
    assert list(engine.model.peft_config) == [engine._adapters["chatty"]], "one adapter, loaded once"


def test_seed_makes_sampling_reproducible(setup):
    _, engine = setup
    sampled = GenerationConfig(max_new_tokens=10, temperature=1.0, seed=7)
    first = list(engine.stream(None, "hi", "S", settings=sampled))[-1]
    assert first == list(engine.stream(None, "hi", "S", settings=sampled))[-1]
    unseeded = GenerationConfig(max_new_tokens=10, temperature=1.0)
    replies = {list(engine.stream(None, "hi", "S", settings=unseeded))[-1] for _ in range(3)}
    assert len(replies) > 1, "without a seed, sampling must not repeat itself"


def test_reply_helper_and_errors(setup, monkeypatch, tiny_model_dir):
    registry, _ = setup
    monkeypatch.setenv("STUDIO_BASE_MODEL", str(tiny_model_dir))
    answer = reply("chatty", "hello", settings=GREEDY, registry=registry)
    assert answer.target == "chatty" and answer.text and answer.seconds > 0
    assert reply("base", "hello", settings=GREEDY, registry=registry).target == "base"
    with pytest.raises(PersonaError, match="No persona named"):
        reply("nobody", "hello", registry=registry)
    with pytest.raises(PersonaError, match="empty"):
        reply("base", "  ", registry=registry)


def test_persona_on_another_base_is_refused(setup, tmp_path):
    registry, engine = setup
    persona = registry.get("chatty")
    persona.base_model = {"id": "someone/else", "revision": "abc"}
    with pytest.raises(PersonaError, match="was trained on someone/else"):
        list(engine.stream(persona, "hi", "S", settings=GREEDY))
