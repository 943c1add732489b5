"""Every base-model family a user may pick, on a tiny model built from its config (tests/families.py): the
system prompt reaches the model under every chat template, training changes the adapter only, a saved persona
reloads with identical logits, two personas chat side by side in one batch, the evaluation runs, and the fast
paths (one-row training, post-token loss, fused LoRA chat) are taken only where they give the same numbers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file

from studio.chat.arena import Pane, arena_stream
from studio.chat.config import GenerationConfig
from studio.chat.engine import ChatEngine, Row, get_engine
from studio.chat.generate import BASE_ADAPTER
from studio.chat_format import (SYSTEM_NOTE, build_examples, chat_messages, encode_example, ensure_chat_template,
                                pad_batch, render_chat, system_note, system_role)
from studio.evaluation.config import EvalConfig
from studio.evaluation.run import evaluate_persona
from studio.ingest import Post
from studio.models import load_tokenizer, resolve_base
from studio.persona.registry import PersonaRegistry
from studio.training.config import TrainConfig
from studio.training.run import train_persona
from tests.conftest import POSTS
from tests.families import BY_NAME, FAMILIES, build_family

SYSTEM = "You are Alpha, who posts about coffee and code."
MORE = ["Second coffee of the day, first bug of the day.", "Refactoring a parser while the kettle boils.",
        "Tests pass locally, which means nothing.", "A small tool that does one thing well is a joy to use."]


@dataclass
class Setup:
    family: object
    folder: object
    registry: PersonaRegistry
    results: dict
    events: list


@pytest.fixture(scope="module", params=[f.name for f in FAMILIES])
def family(request, tiny_model_dir, tmp_path_factory) -> Setup:
    """The family's tiny model, and two personas trained on it (Alpha, Beta) through the studio's real training,
    adapters on the top layer only (lora_layers=1 of 2). (Replay is off: its rows are chat-format examples of the
    base model's own answers, made by the same rendering and generation as the tests below check.)"""
    fam = BY_NAME[request.param]
    folder = build_family(fam, tiny_model_dir, tmp_path_factory.mktemp(fam.name))
    registry = PersonaRegistry(tmp_path_factory.mktemp(f"{fam.name}-personas"))
    results, events = {}, []
    for name, seed, posts in (("Alpha", 0, POSTS + MORE), ("Beta", 1, POSTS[2:])):
        config = TrainConfig(base_model=str(folder), max_steps=4, learning_rate=2e-2, batch_size=4, seed=seed,
                             lora_layers=1, eval_steps=0, probe_steps=0, replay_share=0, max_length=96)
        results[name] = train_persona([Post(p) for p in posts], name, config, system_prompt=SYSTEM if name == "Alpha" else None,
                                      registry=registry, progress=events.append)
    return Setup(fam, folder, registry, results, events)


def test_the_system_prompt_reaches_the_model_under_every_template(family):
    fam, tokenizer = family.family, load_tokenizer(resolve_base(str(family.folder)))
    assert ensure_chat_template(tokenizer) is (fam.template is None)  # no template: the documented fallback
    assert system_role(tokenizer) == fam.system_role
    assert system_note(tokenizer) == ("" if fam.system_role == "native" else SYSTEM_NOTE)
    text = render_chat(tokenizer, chat_messages(SYSTEM, "And now?", [("First question?", "First answer.")]))
    assert text.count(SYSTEM) == 1 and text.index(SYSTEM) < text.index("First question?") < text.index("And now?")
    if fam.system_role != "native":  # Gemma 2 and Mistral refuse a system turn; Gemma 3 joins it itself
        assert SYSTEM + "\n\nFirst question?" in text
    if fam.name == "qwen3":  # a persona answers, it does not think
        assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    example = encode_example(tokenizer, SYSTEM, "Any news?", "Shipped a tiny fix today.", 96)
    answer = [t for t, label in zip(example["input_ids"], example["labels"]) if label != -100]
    assert SYSTEM in tokenizer.decode(example["input_ids"])
    assert tokenizer.decode(answer, skip_special_tokens=True).strip() == "Shipped a tiny fix today."
    ends = {tokenizer.convert_tokens_to_ids(t) for t in fam.tokens["turn_ends"]}
    assert ends & set(answer[-3:]), "the answer ends with a token that ends the turn: the persona learns to stop"
    warned = [e["message"] for e in family.events if e["event"] == "warning"]
    assert (SYSTEM_NOTE in warned) is (fam.system_role != "native")


def test_training_changes_the_adapter_only(family):
    fam, result = family.family, family.results["Alpha"]
    from transformers import AutoModelForCausalLM

    # the saved base as transformers names its weights (GPT-NeoX's file keys differ from the module's)
    base = AutoModelForCausalLM.from_pretrained(family.folder, dtype=torch.float32).state_dict()
    assert base.keys() and load_file(family.folder / "model.safetensors")
    lora_b = {n: p for n, p in result.model.named_parameters() if "lora_B" in n}
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b.values()), "LoRA B starts at zero and must have learned"
    current = {n.replace(".base_layer", ""): p for n, p in result.model.get_base_model().state_dict().items() if "lora_" not in n}
    for name, weight in base.items():
        assert torch.equal(current[name].detach(), weight), f"base weight {name} changed"
    adapted = {n.rsplit(".lora_B", 1)[0] for n in lora_b}
    assert {n.rsplit(".", 1)[-1] for n in adapted} >= set(fam.lora_names)  # fused projections too (Phi-3, GPT-NeoX)
    assert all(".layers.1." in n for n in adapted), "lora_layers=1: the top decoder layer only"
    history = result.persona.metrics["loss_history"]
    assert len(history) == 4 and all(math.isfinite(x) for x in history)


def test_a_saved_persona_reloads_with_identical_logits(family):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = family.results["Alpha"]
    ids = torch.tensor([[5, 42, 1337, 7, 99, 3, 250]])
    result.model.eval()
    with torch.no_grad():
        before = result.model(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(family.folder, dtype=torch.float32)
        plain = base(input_ids=ids).logits
        reloaded = PeftModel.from_pretrained(base, family.registry.get("alpha").adapter_dir).eval()
        after = reloaded(input_ids=ids).logits
    assert torch.allclose(before, after, atol=1e-5)
    assert not torch.allclose(plain, after, atol=1e-3), "the adapter must change the logits"


def test_two_personas_chat_side_by_side_in_one_batch(family, monkeypatch):
    """The arena answers both personas of the base with one generate, real tokens in each pane, and says where
    the template has no system role; the fused-LoRA deltas give PEFT's own replies, base rows included."""
    settings = GenerationConfig(max_new_tokens=8, greedy=True)
    panes = [Pane("alpha", None, settings, [("hi", "yo")]), Pane("beta", "Answer briefly.", settings)]
    replies = list(arena_stream("How was your day?", panes, registry=family.registry))[-1]
    assert [r.target for r in replies] == ["alpha", "beta"] and all(r.text.strip() for r in replies)
    assert all(r.note.startswith("one batch with pane") for r in replies)
    assert all((SYSTEM_NOTE in r.note) is (family.family.system_role != "native") for r in replies)

    alpha, beta = family.registry.get("alpha"), family.registry.get("beta")
    rows = [Row(persona, chat_messages(SYSTEM, "hello", history), settings, 0) for persona, history in
            ((None, []), (alpha, [("hi", "yo")]), (beta, [("first question here", "an answer"), ("again", "ok")]))]
    texts = {}
    for fused in (True, False):  # the arena's shared engine (fused LoRA, the default), then PEFT's own route
        engine = get_engine(str(family.folder)) if fused else ChatEngine(str(family.folder), fused_lora=False)
        for row in rows[1:]:
            engine.warm(row.persona)
        calls, generate = [], engine.model.generate
        monkeypatch.setattr(engine.model, "generate", lambda *a, _g=generate, **k: calls.append(1) or _g(*a, **k))
        assert (engine._fused is not None) is fused and (not fused or engine._fused.supported([BASE_ADAPTER, "x"]))
        texts[fused] = list(engine.stream_batch(rows))[-1]
        assert len(calls) == 1, "one generate for the base row and both personas"
    assert texts[True] == texts[False] and all(t.strip() for t in texts[True])


def _expected_paths(family, width: int) -> tuple[bool, bool]:
    """(post-token loss, one row) as the trainer should choose them for this family's model and batch width."""
    config = family.results["Alpha"].model.get_base_model().config
    softcapped = bool(getattr(config, "final_logit_softcapping", None))
    window = getattr(config, "sliding_window", None)
    return not softcapped, not softcapped and (not window or width <= window)


def test_training_fast_paths_are_exact_or_not_taken(family, tmp_path, monkeypatch):
    """Post-token loss and one-row batches give the model's own loss and gradients; Gemma 2's soft-capped logits
    take the Trainer's default path, and a sliding window narrower than the rows (Mistral, Gemma 2) keeps rows."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, TrainingArguments

    import studio.training.step as step

    tokenizer = load_tokenizer(resolve_base(str(family.folder)))
    ensure_chat_template(tokenizer)
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(family.folder, dtype=torch.float32),
                           LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    batch = pad_batch(build_examples([Post(p) for p in POSTS[:4]], tokenizer, SYSTEM, 96), tokenizer.pad_token_id)
    assert (batch["attention_mask"] == 0).any()  # padded rows included
    post_token, rows, loss, one_row = [], [], step.post_token_loss, step.one_row
    monkeypatch.setattr(step, "post_token_loss", lambda *a: post_token.append(1) or loss(*a))
    monkeypatch.setattr(step, "one_row", lambda *a: rows.append(one_row(*a)) or rows[-1])
    trainer = step.post_token_trainer()(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
    with step.lean_lora(model):
        fast = trainer.compute_loss(model, batch)
        fast.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    full = model(**batch).loss
    full.backward()
    want_post_token, want_row = _expected_paths(family, batch["input_ids"].shape[1])
    assert (bool(post_token), any(r is not None for r in rows)) == (want_post_token, want_row)
    assert torch.allclose(fast, full, atol=1e-5)
    assert all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(grads, [p for p in model.parameters() if p.requires_grad]))


def test_the_evaluation_runs(family):
    config = EvalConfig(prompts=2, max_new_tokens=8, loss_posts=4, reference_posts=8, extraction_posts=2, probe=False)
    result = evaluate_persona("alpha", config, family.registry)
    assert all(math.isfinite(result["loss"][side]["loss"]) for side in ("base", "persona"))
    assert result["loss"]["persona"]["loss"] != result["loss"]["base"]["loss"]
    assert len(result["samples"]) == 2 and all(isinstance(s["persona"], str) for s in result["samples"])
    stored = json.loads((family.registry.get("alpha").path / "persona.json").read_text(encoding="utf-8"))
    assert stored["evaluation"]["summary"] == result["summary"]


def test_fast_paths_step_aside_where_they_would_not_be_exact(tiny_model_dir, tmp_path, monkeypatch):
    """Bloom's ALiBi positions come from the 2D mask (its decoder takes no position_ids): its rows stay rows, and
    the loss is the model's own. LoRA on an embedding, or a bias on B, is not in the fused deltas or the lean
    layers: the engine takes PEFT's route for them and the trainer PEFT's forward."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, BloomConfig, BloomForCausalLM, TrainingArguments

    import studio.training.step as step
    from studio.chat.fused_lora import FusedLoRA

    torch.manual_seed(0)
    bloom = BloomForCausalLM(BloomConfig(vocab_size=300, hidden_size=32, n_layer=2, n_head=4))
    model = get_peft_model(bloom, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    ids = torch.tensor([[5, 6, 7, 8, 9, 10], [5, 6, 7, 11, 12, 0]])
    batch = {"input_ids": ids, "attention_mask": (ids != 0).long(), "labels": torch.where(ids != 0, ids, -100)}
    batch["labels"][:, :3] = -100  # the shared opening is the prompt
    rows, one_row = [], step.one_row
    monkeypatch.setattr(step, "one_row", lambda *a: rows.append(1) or one_row(*a))
    assert not step.one_row_is_exact(bloom.config, 6, bloom.get_decoder()) and step.has_fast_path(bloom)
    trainer = step.post_token_trainer()(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
    assert torch.allclose(trainer.compute_loss(model, dict(batch)), model(**batch).loss, atol=1e-5) and not rows

    for extra in (dict(target_modules=["q_proj", "embed_tokens"]), dict(target_modules=["q_proj", "v_proj"], lora_bias=True)):
        llama = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraConfig(r=4, **extra))
        with step.lean_lora(llama):
            lean = {name for name, m in llama.named_modules() if "forward" in vars(m)}
        assert (not lean) if extra.get("lora_bias") else (lean and all(name.endswith("q_proj") for name in lean))
        assert not FusedLoRA(llama).supported(["default", BASE_ADAPTER])
    plain = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraConfig(r=4, target_modules=["q_proj"]))
    assert FusedLoRA(plain).supported(["default", BASE_ADAPTER])
