"""Training that keeps what the base knew: replay rows and the KL anchor change the loss as specified
(planted distributions), LoRA on the upper layers only (and the backward stops there), the replay answers
are cached per base model, and the quick knowledge probe runs during training by default."""

import json
import math

import pytest
import torch

from studio.chat_format import build_examples, pad_batch
from studio.errors import ConfigError
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.config import TrainConfig
from studio.training.replay import REPLAY_FILE, ReplayCollator, base_answers, cache_path, prompts, replay_examples, replay_rows
from studio.training.run import train_persona
from studio.training.losses import replay_objective, replay_token_loss
from studio.training.step import post_token_trainer
from tests.conftest import POSTS


@pytest.fixture(scope="module")
def four_layers(tiny_model_dir, tmp_path_factory):
    """The tiny Llama with 4 decoder layers (so that 'the top 2' is a real choice)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig.from_pretrained(tiny_model_dir)
    config.num_hidden_layers = 4
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("tiny-llama-4")
    LlamaForCausalLM(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    return folder


def test_replay_prompts_are_everyday_requests_in_both_languages():
    rows = prompts()
    assert len(rows) >= 200 and len({r["id"] for r in rows}) == len(rows) == len({r["prompt"] for r in rows})
    langs = [r["lang"] for r in rows]
    assert abs(langs.count("en") - langs.count("ja")) <= len(rows) // 10
    assert all(set(r) == {"id", "lang", "topic", "prompt"} and r["prompt"].strip() for r in rows)
    assert {r["topic"] for r in rows} <= set(json.loads(REPLAY_FILE.read_text(encoding="utf-8"))["topics"])


def test_replay_objective_on_planted_distributions():
    base = torch.log(torch.tensor([[0.5, 0.5], [0.25, 0.75]]))
    persona = torch.log(torch.tensor([[0.9, 0.1], [0.25, 0.75]])).requires_grad_()
    targets = torch.tensor([0, 1])
    ce = (-math.log(0.9) - math.log(0.75)) / 2
    kl = (0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1) + 0) / 2  # the second row: the same distribution
    total, got_ce, got_kl = replay_objective(persona, base, targets, kl_weight=2.0)
    assert got_ce.item() == pytest.approx(ce, abs=1e-6) and got_kl.item() == pytest.approx(kl, abs=1e-6)
    assert total.item() == pytest.approx(ce + 2.0 * kl, abs=1e-6)
    only_ce, _, no_kl = replay_objective(persona, base, targets, kl_weight=0.0)
    assert no_kl is None and only_ce.item() == pytest.approx(ce, abs=1e-6)
    same, _, zero = replay_objective(base.clone().requires_grad_(), base, targets, kl_weight=5.0)
    assert zero.item() == pytest.approx(0.0, abs=1e-7)
    total.backward()  # the KL pulls the persona's first row back towards the base's 50/50
    assert persona.grad[0, 0] > 0


@pytest.mark.parametrize("logit_rows", [10_000, 3])  # all rows at once; slices of 3 rows, the last one partial
def test_replay_token_loss_equals_the_autograd_objective(monkeypatch, logit_rows):
    """The fused replay loss (logits a slice at a time, the gradient made in the forward pass) gives
    `replay_objective`'s total, cross-entropy, KL and gradient; without a KL weight, the cross-entropy only."""
    import studio.training.losses

    torch.manual_seed(0)
    weight, targets = torch.randn(50, 16) * 0.5, torch.randint(0, 50, (7,))
    hidden, base = torch.randn(7, 16, requires_grad=True), torch.randn(7, 50)
    monkeypatch.setattr(studio.training.losses, "LOGITS_BYTES", logit_rows * 4 * 50)
    for kl_weight in (0.0, 16.0):
        total, ce, kl = replay_token_loss(hidden, weight, targets, base, kl_weight)
        (3 * total).backward()
        fused, hidden.grad = hidden.grad, None
        want_total, want_ce, want_kl = replay_objective(hidden @ weight.T, base, targets, kl_weight)
        (3 * want_total).backward()
        torch.testing.assert_close(total, want_total)
        torch.testing.assert_close(ce, want_ce)
        assert (kl is None) == (want_kl is None) == (kl_weight == 0)
        if kl is not None:
            torch.testing.assert_close(kl, want_kl)
            assert kl > 0 and not kl.requires_grad and not ce.requires_grad
        torch.testing.assert_close(fused, hidden.grad)
        hidden.grad = None
    with torch.no_grad():  # validation: the same loss, no gradient made
        torch.testing.assert_close(replay_token_loss(hidden, weight, targets, base, 16.0)[0], want_total.detach())


def _peft(folder, layers=None):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    extra = {"layers_to_transform": layers, "layers_pattern": "layers"} if layers else {}
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] if layers else "all-linear"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(folder),
                           LoraConfig(r=4, lora_alpha=8, target_modules=targets, task_type="CAUSAL_LM", **extra))
    with torch.no_grad():  # a persona that differs from the base (LoRA B starts at zero)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    return model


def _plain_ce(model, batch):
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"][:, 1:].reshape(-1), ignore_index=-100)


def test_trainer_loss_is_posts_plus_replay_plus_kl(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = _peft(tiny_model_dir)
    posts = pad_batch(build_examples([Post(p) for p in POSTS[:4]], tokenizer, "You are T.", 128), tokenizer.pad_token_id)
    replay = pad_batch(replay_examples([{"prompt": "How do I relax?", "answer": "Take a walk and breathe slowly."},
                                        {"prompt": "お茶のいれ方は？", "answer": "お湯を少し冷ましてから注ぎます。"}], tokenizer, 128),
                       tokenizer.pad_token_id)
    share, weight = 0.25, 0.7
    trainer = post_token_trainer(0, share, weight)(model=model, args=TrainingArguments(str(tmp_path), use_cpu=True, report_to="none"))
    trainer.current_gradient_accumulation_steps = 1
    model.train()
    with torch.no_grad():
        persona_ce, replay_ce = _plain_ce(model, posts), _plain_ce(model, replay)
        keep = replay["labels"][:, 1:] != -100
        persona_logp = torch.log_softmax(model(**{k: replay[k] for k in ("input_ids", "attention_mask")}).logits[:, :-1][keep], -1)
        with model.disable_adapter():
            base_logp = torch.log_softmax(model(**{k: replay[k] for k in ("input_ids", "attention_mask")}).logits[:, :-1][keep], -1)
        kl = (base_logp.exp() * (base_logp - persona_logp)).sum(-1).mean()
        assert kl > 1e-3  # the planted adapter moved the distribution
        got_posts = trainer.compute_loss(model, dict(posts))
        got_replay = trainer.compute_loss(model, {"replay": replay})
    assert got_posts.item() == pytest.approx((1 - share) * persona_ce.item(), rel=1e-4)
    assert got_replay.item() == pytest.approx(share * (replay_ce.item() + weight * kl.item()), rel=1e-4)
    assert trainer.replay_terms["kl"] == pytest.approx(kl.item(), rel=1e-4)
    model.eval()  # validation loss is the posts' own, unweighted
    with torch.no_grad():
        assert trainer.compute_loss(model, dict(posts, replay=replay)).item() == pytest.approx(persona_ce.item(), rel=1e-4)


def test_replay_rows_and_collator():
    assert [replay_rows(4, s) for s in (0.0, 0.1, 0.25, 0.34, 0.5)] == [0, 1, 1, 2, 4]
    examples = [{"input_ids": [i, i], "labels": [-100, i]} for i in range(1, 4)]
    collate = ReplayCollator(lambda rows: pad_batch(rows, 0), examples, rows=2, seed=0)
    first, second = collate(examples[:1]), collate(examples[:1])
    assert first["replay"]["input_ids"].shape == (2, 2) and second["replay"]["input_ids"].shape == (2, 2)
    seen = first["replay"]["input_ids"][:, 0].tolist() + second["replay"]["input_ids"][:, 0].tolist()
    assert sorted(set(seen)) == [1, 2, 3]  # it cycles through all of them


def test_replay_without_chat_topics_keeps_only_task_requests(tiny_model_dir):
    """replay_chat=False leaves out the base's answers to small talk, feelings and opinions (the register the
    persona takes over) and keeps every task request, in both languages."""
    from transformers import AutoTokenizer

    from studio.training.replay import CHAT_TOPICS

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    answers = [{"id": p["id"], "prompt": p["prompt"], "answer": "Fine."} for p in prompts()]
    chat_ids = {p["id"] for p in prompts() if p["topic"] in CHAT_TOPICS}
    assert chat_ids and {p["lang"] for p in prompts() if p["id"] in chat_ids} == {"en", "ja"}
    everything = replay_examples(answers, tokenizer, 128)
    tasks = replay_examples(answers, tokenizer, 128, chat=False)
    assert len(everything) == len(answers) and len(tasks) == len(answers) - len(chat_ids)
    kept = {tokenizer.decode(e["input_ids"]) for e in tasks}
    asked = [p for p in prompts() if any(p["prompt"] in text for text in kept)]
    assert asked and all(p["topic"] not in CHAT_TOPICS for p in asked)
    assert TrainConfig(replay_chat=False).replay_chat is False


def test_upper_layer_lora_adapters_and_backward_stop(four_layers):
    def layers_with_grad(model):
        fired = set()
        decoder_layers = model.get_base_model().model.layers
        hooks = [layer.register_full_backward_hook(lambda m, gi, go, i=i: fired.add(i)) for i, layer in enumerate(decoder_layers)]
        ids = torch.tensor([[1, 2, 3, 4, 5]])
        model(input_ids=ids, labels=ids).loss.backward()
        for hook in hooks:
            hook.remove()
        return fired

    top = _peft(four_layers, layers=[2, 3])
    adapted = {int(n.split("layers.")[1].split(".")[0]) for n, _ in top.named_parameters() if "lora_" in n}
    assert adapted == {2, 3}
    assert layers_with_grad(top) == {2, 3}
    assert layers_with_grad(_peft(four_layers)) == {0, 1, 2, 3}


def test_train_with_top_layers_rslora_and_replay(four_layers):
    registry = PersonaRegistry()
    config = TrainConfig(base_model=str(four_layers), max_steps=3, batch_size=2, lora_layers=1, rslora=True, rank=4,
                         replay_share=0.34, kl_weight=0.5, probe_steps=0, learning_rate=5e-3)
    result = train_persona([Post(p) for p in POSTS], "Top", config, registry=registry)
    names = [n for n, _ in result.model.named_parameters() if "lora_A" in n]
    assert names and all("layers.3." in n for n in names)
    lora = result.model.peft_config["default"]
    assert lora.use_rslora and list(lora.layers_to_transform) == [3]
    assert result.persona.train["replay_share"] == 0.34 and result.persona.train["lora_layers"] == 1
    assert result.persona.system_prompt == "You are Top. Reply like one of your posts: one short, casual line."  # style_line
    assert all(math.isfinite(x) for x in result.persona.metrics["loss_history"])


def test_replay_answers_cached_per_base_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    key = {"spec": "tiny-cache-test", "path": str(tiny_model_dir)}
    path = cache_path(key)
    path.unlink(missing_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    first = base_answers(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tokenizer, key)
    assert path.is_file() and first and {a["id"] for a in first} <= {p["id"] for p in prompts()}
    written = path.stat().st_mtime_ns
    again = base_answers(None, tokenizer, key)  # no model: the cached answers are read back
    assert again == first and path.stat().st_mtime_ns == written
    assert cache_path({**key, "spec": "another-base"}) != path


def test_the_bundled_models_answers_ship_and_are_current():
    """A first training on the bundled model reads its answers from replay_cache/ (85-111 s to write on 2 cores)."""
    from studio.models import resolve_base
    from studio.training.replay import SHIPPED_DIR

    key = resolve_base("bundled").to_json()
    shipped = SHIPPED_DIR / cache_path(key).name
    assert shipped.is_file(), "replay.json or the replay's decoding changed: run python bench/replay_answers.py"
    answers = json.loads(shipped.read_text(encoding="utf-8"))["answers"]
    assert len(answers) >= 0.95 * len(prompts()) and {a["id"] for a in answers} <= {p["id"] for p in prompts()}
    assert base_answers(None, None, key) == answers  # read without a model
    assert len(list(SHIPPED_DIR.iterdir())) == 1  # no stale file beside it


def test_probe_during_training_by_default(tiny_model_dir):
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=TrainConfig().probe_steps, batch_size=4)
    assert config.probe_steps > 0 and config.probe_stop_drop > 0
    events = []
    train_persona([Post(p) for p in POSTS], "Probed", config, registry=PersonaRegistry(), progress=events.append)
    probes = [e for e in events if e["event"] == "probe"]
    assert [e["step"] for e in probes] == [0, config.probe_steps]
    assert all(0 <= e["accuracy"] <= 1 and e["questions"] > 0 for e in probes)


def test_the_kl_anchor_is_on_by_default_and_needs_replay_rows_to_act_on():
    """KL 16 at lr 4e-4 are the defaults (README, Retention); with replay off there are no rows to anchor,
    so replay_share 0 turns the anchor off with it instead of being refused."""
    assert TrainConfig().kl_weight == 16.0 and TrainConfig().replay_share > 0 and TrainConfig().learning_rate == 4e-4
    assert TrainConfig(replay_share=0.0).kl_weight == 16.0  # accepted; the trainer gets no replay rows
    with pytest.raises(ConfigError, match="replay_share"):
        TrainConfig(replay_share=1.0)


@pytest.mark.parametrize("kl_weight", [0.0, 0.7])
def test_replay_rows_join_the_posts_pass_with_the_same_loss_and_gradients(tiny_model_dir, four_layers, tmp_path, kl_weight):
    """The replay rows run in the posts' own forward and backward pass (one read of the weights, not two), with
    or without the KL anchor (LoRA on the top 2 of 4 layers there, as the defaults put it on the top layers):
    the same update, logged loss, replay cross-entropy and KL as their own pass after the posts' parts."""
    from transformers import AutoTokenizer, TrainingArguments

    folder, layers = (four_layers, [2, 3]) if kl_weight else (tiny_model_dir, None)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    posts = pad_batch(build_examples([Post(p) for p in POSTS[:4]], tokenizer, "You are T.", 128), tokenizer.pad_token_id)
    replay = pad_batch(replay_examples([{"prompt": "How do I relax?", "answer": "Take a walk and breathe slowly, then stretch."}],
                                       tokenizer, 128), tokenizer.pad_token_id)
    items = (posts["labels"][:, 1:] != -100).sum()
    results = {}
    for name, max_tokens in (("joined", 0), ("apart", 16)):  # 16 tokens: posts in parts, replay its own pass
        model = _peft(folder, layers)
        if kl_weight:  # the base's pass from layer 2 (exact for this model, tested below) instead of its first-time check
            from studio.training.step import _UPPER_EXACT

            _UPPER_EXACT[model.get_base_model()] = True
        trainer = post_token_trainer(max_tokens, 0.25, kl_weight)(model=model, args=TrainingArguments(str(tmp_path), use_cpu=True, report_to="none"))
        trainer.current_gradient_accumulation_steps = 1
        batch = {k: v.clone() for k, v in posts.items()}
        batch["replay"] = {k: v.clone() for k, v in replay.items()}
        calls = []
        original = trainer.compute_loss
        trainer.compute_loss = lambda m, inputs, **kw: calls.append("replay_rows" in inputs) or original(m, inputs, **kw)
        logged = trainer.training_step(model, batch, items)
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results[name] = (logged.item(), grads, calls, trainer.replay_terms)
    (joined, grads, calls, terms), (apart, apart_grads, apart_calls, apart_terms) = results["joined"], results["apart"]
    assert calls == [True] and len(apart_calls) > 2 and not any(apart_calls)  # one pass against several
    assert joined == pytest.approx(apart, rel=1e-5) and terms["ce"] == pytest.approx(apart_terms["ce"], rel=1e-5)
    if kl_weight:
        assert terms["kl"] > 1e-4 and terms["kl"] == pytest.approx(apart_terms["kl"], rel=1e-4)
    assert grads.keys() == apart_grads.keys() and len(grads) > 0
    for name in grads:
        torch.testing.assert_close(grads[name], apart_grads[name], rtol=1e-4, atol=1e-6)


def test_kl_base_pass_runs_from_the_lowest_trained_layer(four_layers):
    """The base's logits for the KL (adapter off) come from the hidden states that entered the lowest trained layer
    in the adapter's own pass: checked against the whole pass once per model, then the layers below do not run."""
    from transformers import AutoTokenizer

    from studio.training.layers import decoder_layers, first_trained_layer
    from studio.training.step import _UPPER_EXACT, base_logits, labelled_logits, lower_layers_kept

    tokenizer = AutoTokenizer.from_pretrained(four_layers)
    replay = pad_batch(replay_examples([{"prompt": "How do I relax?", "answer": "Take a walk and breathe slowly."},
                                        {"prompt": "お茶のいれ方は？", "answer": "お湯を少し冷ましてから注ぎます。"}], tokenizer, 128),
                       tokenizer.pad_token_id)
    keep = replay["labels"][:, 1:] != -100
    model = _peft(four_layers, layers=[2, 3])
    causal_lm = model.get_base_model()
    assert first_trained_layer(causal_lm) == 2 and first_trained_layer(_peft(four_layers).get_base_model()) == 0
    with torch.no_grad(), model.disable_adapter():
        whole = labelled_logits(model, replay, keep)
    runs = []
    hook = decoder_layers(causal_lm)[0].register_forward_hook(lambda *_: runs.append(1))
    with lower_layers_kept(model) as below:
        persona = labelled_logits(model, replay, keep)
    assert len(below) == 1 and runs == [1] and (persona - whole).abs().max() > 1e-3  # the adapter moved it
    torch.testing.assert_close(base_logits(model, replay, keep, below), whole)  # the first time: the whole pass, checked
    assert _UPPER_EXACT[causal_lm] is True and len(runs) == 2
    shortcut = base_logits(model, replay, keep, below)
    hook.remove()
    assert len(runs) == 2  # layer 0 did not run again
    torch.testing.assert_close(shortcut, whole, rtol=1e-5, atol=1e-5)


def test_kl_base_pass_falls_back_where_the_shortcut_differs():
    """Granite's decoder multiplies `inputs_embeds` (embedding_multiplier): starting it at a middle layer would give
    other logits, so the check keeps the whole pass for it."""
    from peft import LoraConfig, get_peft_model
    from transformers import GraniteConfig, GraniteForCausalLM

    from studio.training.step import _UPPER_EXACT, base_logits, has_fast_path, labelled_logits, lower_layers_kept

    torch.manual_seed(0)
    config = GraniteConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=1, embedding_multiplier=4.0, logits_scaling=1.0)
    model = get_peft_model(GraniteForCausalLM(config), LoraConfig(r=2, target_modules=["q_proj", "v_proj"],
                                                                layers_to_transform=[1], layers_pattern="layers"))
    batch = {"input_ids": torch.randint(1, 96, (2, 7)), "attention_mask": torch.ones(2, 7, dtype=torch.long)}
    keep = torch.ones(2, 6, dtype=torch.bool)
    assert has_fast_path(model.get_base_model())
    with torch.no_grad(), model.disable_adapter():
        whole = labelled_logits(model, batch, keep)
    for _ in range(2):
        with lower_layers_kept(model) as below:
            labelled_logits(model, batch, keep)
        torch.testing.assert_close(base_logits(model, batch, keep, below), whole)
    assert _UPPER_EXACT[model.get_base_model()] is False


def test_knowledge_watch_stops_and_puts_back_the_last_adapter_that_still_knew(monkeypatch):
    """Planted probe results 0.8, 0.75, 0.5 at steps 0, 20, 40 with a stop drop of 0.2: training stops at step
    40 with a warning, and the weights of step 20 (the last probe within the drop) are put back at the end."""
    from transformers import TrainerControl, TrainerState

    from studio.training import watch

    accuracies = iter([0.8, 0.75, 0.5])
    monkeypatch.setattr(watch, "quick_accuracy", lambda model, tokenizer: next(accuracies))
    events = []
    callback = watch.knowledge_watch(None, events.append, every=20, stop_drop=0.2)
    model = torch.nn.Linear(3, 2)
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(None, state, control, model=model)
    snapshots = {}
    for step in (20, 40):
        with torch.no_grad():
            model.weight.add_(1.0)
        snapshots[step] = model.weight.detach().clone()
        state.global_step = step
        callback.on_step_end(None, state, control, model=model)
    assert control.should_training_stop and [e["accuracy"] for e in events if e["event"] == "probe"] == [0.8, 0.75, 0.5]
    assert any("step 20 is kept" in e.get("message", "") for e in events)
    callback.on_train_end(None, state, control, model=model)
    torch.testing.assert_close(model.weight.detach(), snapshots[20])
    assert not torch.equal(model.weight.detach(), snapshots[40])


def test_replay_every_second_batch_is_weighted_twice_there(tiny_model_dir, tmp_path):
    """replay_every=2: the replay rows join batches 1, 3, ... only, weighted 2 x replay_share there (the same
    objective in expectation); the loss logged is the posts' own on every batch."""
    from transformers import AutoTokenizer, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    posts = pad_batch(build_examples([Post(p) for p in POSTS[:4]], tokenizer, "You are T.", 128), tokenizer.pad_token_id)
    replay = pad_batch(replay_examples([{"prompt": "How do I relax?", "answer": "Take a walk and breathe slowly, then stretch."}],
                                       tokenizer, 128), tokenizer.pad_token_id)
    model = _peft(tiny_model_dir)
    share = 0.25
    with torch.no_grad():
        posts_ce, replay_ce = _plain_ce(model, posts).item(), _plain_ce(model, replay).item()
    trainer = post_token_trainer(0, share, 0.0, replay_every=2)(model=model, args=TrainingArguments(str(tmp_path), use_cpu=True, report_to="none"))
    trainer.current_gradient_accumulation_steps = 1
    totals, original = [], trainer.compute_loss

    def compute_loss(m, inputs, **kw):
        joined = "replay_rows" in inputs
        loss = original(m, inputs, **kw)
        totals.append((joined, loss.item()))
        return loss

    trainer.compute_loss = compute_loss
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.0)  # weights kept: same losses each batch
    logged = []
    for _ in range(3):
        batch = {k: v.clone() for k, v in posts.items()}
        batch["replay"] = {k: v.clone() for k, v in replay.items()}
        logged.append(trainer.training_step(model, batch, None).item())
        optimizer.zero_grad()
    assert [joined for joined, _ in totals] == [True, False, True]
    assert totals[0][1] == pytest.approx((1 - share) * posts_ce + 2 * share * replay_ce, rel=1e-4)
    assert totals[1][1] == pytest.approx((1 - share) * posts_ce, rel=1e-4)
    assert logged == pytest.approx([posts_ce] * 3, rel=1e-4)
    with pytest.raises(ConfigError, match="replay_every"):
        TrainConfig(replay_every=0)
