"""DoRA personas (`--method dora`) evaluate and chat beside the base model: PEFT refuses per-row `adapter_names`
with DoRA, so rows of different adapters run one adapter at a time, with the same replies."""

import pytest

from studio.chat.config import GenerationConfig
from studio.chat.engine import ChatEngine, Row
from studio.chat.generate import BASE_ADAPTER, Prompt, generate_rows, mixes_adapters
from studio.evaluation.config import EvalConfig
from studio.evaluation.generate import held_out_loss
from studio.evaluation.run import evaluate_persona
from studio.ingest import Post
from studio.models import load_tokenizer, resolve_base
from studio.persona.registry import PersonaRegistry
from studio.training.config import TrainConfig
from studio.training.run import train_persona
from tests.conftest import POSTS

GREEDY = GenerationConfig(max_new_tokens=10, temperature=0)
TEXTS = POSTS + [f"Post {i}: coffee and code again, day {i}." for i in range(24)]  # enough for a held-out split


@pytest.fixture(scope="module")
def dora(tiny_model_dir, tmp_path_factory):
    registry = PersonaRegistry(tmp_path_factory.mktemp("dora-personas"))
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=20, learning_rate=1e-2, method="dora", evaluate=False,
                         probe_steps=0)
    return registry, train_persona([Post(p) for p in TEXTS], "Dora", config, registry=registry)


def test_a_dora_persona_is_evaluated(dora, tiny_model_dir, monkeypatch):
    registry, _ = dora
    monkeypatch.setenv("STUDIO_BASE_MODEL", str(tiny_model_dir))
    events = []  # loaded from the registry, as `python -m studio eval dora` does
    evaluation = evaluate_persona("dora", EvalConfig(prompts=4, max_new_tokens=8, probe=False, extraction_posts=4),
                                  registry, progress=events.append)
    assert events[-1]["stage"] == "done" and registry.get("dora").extra["evaluation"] == evaluation
    assert evaluation["loss"]["persona"]["loss"] < evaluation["loss"]["base"]["loss"]  # base: the adapter off
    assert len(evaluation["samples"]) > 0 and all(s["persona"] is not None for s in evaluation["samples"])


def test_mixed_rows_give_the_replies_each_adapter_gives_alone(dora, tiny_model_dir):
    _, result = dora
    model, tokenizer = result.model, load_tokenizer(resolve_base(str(tiny_model_dir)))
    assert not mixes_adapters(model)
    messages = [{"role": "system", "content": "You are Dora."}, {"role": "user", "content": "hello"}]
    rows = [Prompt(messages, GREEDY, 0, BASE_ADAPTER), Prompt(messages, GREEDY, 0, None), Prompt(messages, GREEDY, 0, BASE_ADAPTER)]
    steps = []
    mixed = generate_rows(model.eval(), tokenizer, rows, on_step=steps.append)
    base_alone = generate_rows(model, tokenizer, [rows[0]])
    persona_alone = generate_rows(model, tokenizer, [rows[1]])
    assert mixed == [base_alone[0], persona_alone[0], base_alone[0]]
    assert mixed[0] != mixed[1], "the adapter changes the reply"
    assert steps and all(len(texts) == 3 for texts in steps) and steps[-1] == mixed
    base_loss = held_out_loss(model, tokenizer, POSTS, "You are Dora.", BASE_ADAPTER, max_length=64)
    persona_loss = held_out_loss(model, tokenizer, POSTS, "You are Dora.", None, max_length=64)
    assert persona_loss["loss"] < base_loss["loss"]


def test_base_and_dora_persona_answer_side_by_side_in_chat(dora, tiny_model_dir):
    registry, _ = dora
    persona = registry.get("dora")
    engine = ChatEngine(str(tiny_model_dir))
    rows = [Row.make(None, "hello", "S", None, GREEDY), Row.make(persona, "hello", "S", None, GREEDY)]
    *_, together = engine.stream_batch(rows)
    alone = [list(engine.stream(None, "hello", "S", settings=GREEDY))[-1],
             list(engine.stream(persona, "hello", "S", settings=GREEDY))[-1]]
    assert together == alone and together[0] != together[1]
