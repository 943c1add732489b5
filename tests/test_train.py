"""Training on a tiny random Llama: the adapter learns, the base stays, the persona round-trips."""

import json

import pytest
import torch
from safetensors.torch import load_file

from studio.training.config import TrainConfig
from studio.errors import ConfigError, InputError, PersonaError
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona
from tests.conftest import POSTS


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    registry = PersonaRegistry(tmp_path_factory.mktemp("personas"))
    events = []
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=30, learning_rate=5e-3, batch_size=4, seed=0)
    result = train_persona([Post(p) for p in POSTS * 2], "Tiny Tester", config, registry=registry, progress=events.append)
    return result, registry, events


def test_adapter_weights_changed_and_base_untouched(trained, tiny_model_dir):
    result, _, _ = trained
    base = load_file(tiny_model_dir / "model.safetensors")
    lora_b = {n: p for n, p in result.model.named_parameters() if "lora_B" in n}
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b.values()), "LoRA B starts at zero and must have learned"
    current = {n.replace(".base_layer", ""): p for n, p in result.model.get_base_model().named_parameters() if "lora_" not in n}
    for name, weight in base.items():
        assert torch.equal(current[name].detach(), weight), f"base weight {name} changed"
    assert not any(p.requires_grad for n, p in result.model.named_parameters() if "lora_" not in n)


def test_loss_goes_down_and_progress_reported(trained):
    result, _, events = trained
    history = result.persona.metrics["loss_history"]
    assert len(history) == 30 and sum(history[-5:]) / 5 < sum(history[:5]) / 5
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 31)) and all(e["total"] == 30 for e in steps)
    assert all(e["tokens_per_s"] > 0 and e["eta_s"] >= 0 and e["lr"] is not None for e in steps)
    assert events[0] == {"event": "warning", "message": events[0]["message"]} and "Only 8 posts" in events[0]["message"]
    assert [e for e in events if e["event"] == "start"][0]["train_posts"] == 8


def test_persona_saved_complete(trained):
    result, registry, _ = trained
    folder = registry.root / "tiny-tester"
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in (folder / "adapter").iterdir()}
    assert not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pt"))
    manifest = json.loads((folder / "persona.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["name"] == "Tiny Tester"
    assert manifest["data"]["loaded"] == 16 and manifest["data"]["kept"] == 8 and manifest["data"]["removed"]["duplicates"] == 8
    assert manifest["train"]["max_steps"] == 30 and manifest["train"]["rank"] == 8 and manifest["train"]["alpha"] == 16
    assert manifest["metrics"]["final_loss"] == result.final_loss and manifest["metrics"]["method"] == "lora-fp32"
    assert manifest["system_prompt"].startswith("You are Tiny Tester.")
    assert manifest["created_at"] and manifest["base_model"]["id"]
    lines = (folder / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == POSTS
    assert [p.slug for p in registry.list()] == ["tiny-tester"]
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".staging")]


def test_reloaded_persona_gives_identical_logits(trained, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result, registry, _ = trained
    ids = torch.tensor([[1, 42, 1337, 7, 99]])
    result.model.eval()
    with torch.no_grad():
        before = result.model(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
        plain = base(input_ids=ids).logits
        reloaded = PeftModel.from_pretrained(base, registry.get("tiny-tester").adapter_dir).eval()
        after = reloaded(input_ids=ids).logits
    assert torch.allclose(before, after, atol=1e-5)
    assert not torch.allclose(plain, after, atol=1e-3), "the adapter must change the logits"


def test_bad_requests_write_nothing(trained, tiny_model_dir):
    _, registry, _ = trained
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=1)
    with pytest.raises(PersonaError, match="already exists"):
        train_persona([Post("x")], "tiny tester", config, registry=registry)
    with pytest.raises(PersonaError):
        train_persona([Post("x")], "../evil", config, registry=registry)
    with pytest.raises(InputError, match="No posts left"):
        train_persona([Post("  ")], "empty", config, registry=registry)
    with pytest.raises(InputError, match="at least 5 are needed"):
        train_persona([Post("one two three"), Post("four five six")], "few", config, registry=registry)
    assert [p.slug for p in registry.list()] == ["tiny-tester"]


@pytest.mark.parametrize("field, value, message", [("max_steps", 0, "max_steps"), ("learning_rate", 5, "learning_rate"),
                                                    ("rank", 0, "rank"), ("method", "8bit", "method"),
                                                    ("eval_steps", -1, "eval_steps"), ("rank", "x", "rank must be a number"),
                                                    ("base_model", " ", "base_model")])
def test_config_validation(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal of 4-bit")
def test_qlora_without_cuda_is_refused(tiny_model_dir, tmp_path):
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=1, method="qlora")
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        train_persona([Post(p) for p in POSTS], "q", config, registry=PersonaRegistry(tmp_path))


# all post tokens at once or several slices (the last partial); both attention implementations that take a 4D mask;
# a sliding window narrower than the rows (the one row's mask would replace it): the rows stay rows
@pytest.mark.parametrize("logit_rows, attention, window", [(10_000, "sdpa", None), (7, "eager", None), (10_000, "sdpa", 8)])
def test_post_token_loss_equals_the_full_forward_loss(tiny_model_dir, tmp_path, monkeypatch, logit_rows, attention, window):
    """The fast path (the rows as one row, output layer at labelled positions only, loss and gradient in
    one pass, lean LoRA layers) gives the model's own loss and gradients, in training and in validation."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

    import studio.training.losses
    import studio.training.step
    from studio.chat_format import build_examples, pad_batch
    from studio.training.step import lean_lora, one_row, post_token_loss, post_token_trainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attention),
                           LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    model.config.sliding_window = window  # (Llama has none: it only steers the trainer's choice here)
    batch = pad_batch(build_examples([Post(p) for p in POSTS[:4]], tokenizer, "You are Tiny. Reply as Tiny would.", 64), tokenizer.pad_token_id)
    assert (batch["attention_mask"] == 0).any()  # padded rows included
    labelled = int((batch["labels"][:, 1:] != -100).sum())
    assert labelled > 2 * 7
    monkeypatch.setattr(studio.training.losses, "LOGITS_BYTES", logit_rows * 4 * model.config.vocab_size)
    calls = []
    monkeypatch.setattr(studio.training.step, "post_token_loss", lambda *a: calls.append(1) or post_token_loss(*a))
    rows = []
    monkeypatch.setattr(studio.training.step, "one_row", lambda *a: rows.append(one_row(*a)) or rows[-1])
    trainer = post_token_trainer()(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
    with lean_lora(model):
        lora_layers = [m for m in model.modules() if type(m).__name__ == "Linear" and hasattr(m, "lora_A")]
        assert lora_layers and all("forward" in vars(m) for m in lora_layers)
        fast = trainer.compute_loss(model, batch)
        fast.backward()
        with torch.no_grad():
            fast_eval = trainer.compute_loss(model, batch)
    assert not any("forward" in vars(m) for m in model.modules())  # PEFT's own forward is back
    trained = [p for p in model.parameters() if p.requires_grad]
    fast_grads = [p.grad.clone() for p in trained]
    model.zero_grad()
    full = model(**batch).loss
    full.backward()
    assert len(calls) == 2  # the fast path ran, not the Trainer's default
    if window is None:
        assert len(rows) == 2 and rows[0]["input_ids"].shape[1] < batch["attention_mask"].sum()  # as one row, the opening once
    else:
        assert rows == []
    assert torch.allclose(fast, full, atol=1e-5) and torch.allclose(fast_eval, full, atol=1e-5)
    assert all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(fast_grads, trained))


def test_one_row_shares_the_opening_and_keeps_every_token():
    from studio.training.batches import one_row

    ids = torch.tensor([[5, 6, 7, 8, 9, 0], [5, 6, 3, 0, 0, 0], [5, 6, 7, 1, 2, 4]])
    batch = {"input_ids": ids, "attention_mask": (ids != 0).long()}
    row = one_row(batch, torch.float32)
    # [5, 6] shared by all; [7] by rows 0 and 2 (a group: as posts after the replay row's system prompt parts)
    assert row["input_ids"].tolist() == [[5, 6, 7, 8, 9, 1, 2, 4, 3]]
    assert row["position_ids"].tolist() == [[0, 1, 2, 3, 4, 3, 4, 5, 2]]
    real = batch["attention_mask"].bool()
    assert torch.equal(row["input_ids"][0][row["where"]][real], ids[real])  # every real token, where `where` says
    sees = row["attention_mask"][0, 0] == 0
    assert sees[5].tolist() == [True, True, True, False, False, True, False, False, False]  # openings and itself
    assert sees[8].tolist() == [True, True] + [False] * 6 + [True]  # the shared opening and itself, not the group's
    assert not sees.triu(1).any()  # causal
    assert one_row(batch, torch.float32, max_tokens=8) is None  # longer than allowed: the rows stay rows
    # rows that are all opening come once; one row, or rows that share nothing: None
    assert one_row({"input_ids": torch.tensor([[5, 6], [5, 6]])}, torch.float32)["input_ids"].tolist() == [[5, 6]]
    assert one_row({"input_ids": ids[:1]}, torch.float32) is None
    assert one_row({"input_ids": torch.tensor([[1, 2], [3, 4]])}, torch.float32) is None


def test_lean_lora_falls_back_to_peft_when_adapters_are_off(tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from studio.training.step import lean_lora

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoraConfig(r=4, target_modules="all-linear",
                                                                                            init_lora_weights=False))
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        adapted = model(input_ids=ids).logits
        with model.disable_adapter():
            base = model(input_ids=ids).logits
        with lean_lora(model):
            assert torch.allclose(model(input_ids=ids).logits, adapted, atol=1e-5)
            with model.disable_adapter():
                assert torch.allclose(model(input_ids=ids).logits, base, atol=1e-6)
    assert not torch.allclose(adapted, base, atol=1e-3)  # the adapter does change the output


def test_wide_batches_run_in_parts_with_the_same_gradients(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

    from studio.chat_format import build_examples, pad_batch
    from studio.training.batches import pass_tokens, split_batch
    from studio.training.step import post_token_trainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = pad_batch(build_examples([Post(p) for p in POSTS[:4]], tokenizer, "S", 64), tokenizer.pad_token_id)
    lengths = batch["attention_mask"].sum(1).tolist()
    parts = split_batch(batch, max(lengths) * 2)
    assert len(parts) == 2 and sorted(sum((p["attention_mask"].sum(1).tolist() for p in parts), [])) == sorted(lengths)
    assert all(p["input_ids"].shape[1] == p["attention_mask"].sum(1).max() for p in parts)  # each part cut to its own width
    assert split_batch(batch, 0) == [batch] and len(split_batch(batch, 10_000)) == 1

    grads = []
    for budget in (0, pass_tokens(batch, as_one_row=True) - 1, 1):  # whole, parts (one row would be 1 token too long), one row a part
        torch.manual_seed(0)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                               LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
        trainer = post_token_trainer(budget)(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
        trainer.create_optimizer_and_scheduler(num_training_steps=1)
        trainer.current_gradient_accumulation_steps = 1  # set by the training loop
        loss = trainer.training_step(model, dict(batch))
        grads.append((float(loss), [p.grad.clone() for p in model.parameters() if p.requires_grad]))
    for loss, g in grads[1:]:
        assert abs(loss - grads[0][0]) < 1e-5 and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g, grads[0][1]))


def test_a_batch_run_as_one_row_counts_its_shared_opening_once(tiny_model_dir):
    """max_batch_tokens bounds the tokens a pass computes: rows x longest row when padded, and as one row the rows'
    lengths with their shared opening (chat markup, system prompt) once, which the one row is at most as long as."""
    from transformers import AutoTokenizer

    from studio.chat_format import build_examples, pad_batch
    from studio.training.batches import fits, one_row, pass_tokens

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    system = "You are Tiny. Reply like one of your posts: one short, casual line."
    batch = pad_batch(build_examples([Post(p) for p in POSTS[:4]], tokenizer, system, 128), tokenizer.pad_token_id)
    lengths = batch["attention_mask"].sum(1).tolist()
    ids = batch["input_ids"]
    shared = next(t for t in range(min(lengths)) if len(set(ids[:, t].tolist())) > 1)
    assert shared > len(tokenizer(system)["input_ids"])  # the system prompt is in the opening
    assert pass_tokens(batch) == 4 * max(lengths)
    assert pass_tokens(batch, as_one_row=True) == sum(lengths) - 3 * shared < 4 * max(lengths)
    assert one_row(batch, torch.float32)["input_ids"].shape[1] <= pass_tokens(batch, as_one_row=True)
    budget = pass_tokens(batch, as_one_row=True)
    assert fits(batch, budget, as_one_row=True) and not fits(batch, budget) and fits(batch, 0)
