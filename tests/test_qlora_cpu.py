"""QLoRA (bitsandbytes NF4) on a CPU, as far as it goes, on the tiny random Llama.

What works here, each step tested: loading in 4-bit (the numbers are those of the dequantized weights),
LoRA gradients through the 4-bit layers of a freshly loaded model (equal to those of the dequantized fp32
model), training through `train_persona` (loss falls, the adapter moves, the 4-bit base does not), saving the
adapter, reloading it onto a 4-bit base (the same logits), and applying it to the fp32 base (the chat engine).

What does not: on a CPU with AVX512-BF16, bitsandbytes 0.50 repacks the 4-bit weights for its inference
kernel after any forward pass without gradients in eval mode (the replay answers before training, each
validation, the knowledge probe), and that kernel passes no gradient to its input: from then on the LoRA
layers below the last one get wrong gradients and training silently goes astray. That is why
`studio.models.use_4bit` refuses QLoRA without CUDA; `test_gradients_after_inference` keeps the reason true.
"""

from __future__ import annotations

import copy

import pytest
import torch

from studio.errors import ConfigError
from studio.ingest import Post
from studio.models import load_model, resolve_base
from studio.persona.registry import PersonaRegistry
from studio.training.config import TrainConfig
from tests.conftest import POSTS

bnb = pytest.importorskip("bitsandbytes")
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU backend of bitsandbytes")


def four_bit_layers(model) -> list:
    return [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]


def dequantized_copy(folder, four_bit_model):
    """The fp32 model of `folder` whose 4-bit layers hold the dequantized NF4 weights of `four_bit_model`
    (read before any no-grad pass: after one, the weights may be repacked for the CPU kernel)."""
    model = load_model(resolve_base(str(folder)))
    for name, module in four_bit_model.named_modules():
        if isinstance(module, bnb.nn.Linear4bit):
            assert not getattr(module.weight.quant_state, "packing_format_for_cpu", False)
            weight = bnb.functional.dequantize_4bit(module.weight.data, module.weight.quant_state)
            model.get_submodule(name.removeprefix("base_model.model.")).weight.data.copy_(weight.float())
    return model


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def relative(a, b) -> float:
    return ((a - b).norm() / b.norm()).item()


def ids_batch(seed: int = 1, vocab: int = 1000):
    return torch.randint(0, vocab, (3, 20), generator=torch.Generator().manual_seed(seed))


def test_4bit_loads_on_cpu_with_the_numbers_of_its_dequantized_weights(tiny_model_dir):
    ref = resolve_base(str(tiny_model_dir))
    model = load_model(ref, four_bit=True)
    assert len(four_bit_layers(model)) == 14  # q, k, v, o, gate, up, down in each of the 2 layers
    reference = dequantized_copy(tiny_model_dir, model)
    ids = ids_batch()
    quantized = logits(model, ids)
    assert relative(quantized, logits(reference, ids)) < 0.02  # bf16 compute on the same NF4 weights
    assert 0.01 < relative(quantized, logits(load_model(ref), ids)) < 0.5  # NF4 rounding: near, not equal


def _lora_gradients(model, ids) -> dict:
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(3)  # the same adapters on both models; B not zero, so every LoRA matrix has a gradient
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0,
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
    peft_model.train()
    peft_model(input_ids=ids, labels=ids).loss.backward()
    return {name: p.grad for name, p in peft_model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("after_inference", [False, True])
def test_gradients_after_inference(tiny_model_dir, after_inference):
    """LoRA gradients through the 4-bit layers equal those through the dequantized fp32 weights, until a
    no-grad pass in eval mode on a CPU with AVX512-BF16 repacks the weights: then they are wrong. If a
    bitsandbytes release fixes this, the True case fails here: revisit the refusal in studio.models.use_4bit."""
    from peft import prepare_model_for_kbit_training

    model = load_model(resolve_base(str(tiny_model_dir)), four_bit=True)
    reference = dequantized_copy(tiny_model_dir, model)
    if after_inference:
        logits(model, ids_batch(seed=2))  # what generate, a validation pass or the knowledge probe do
    repacked = any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in four_bit_layers(model))
    assert repacked == (after_inference and bool(bnb.functional.has_avx512bf16()))
    ids = ids_batch()
    got = _lora_gradients(prepare_model_for_kbit_training(model, use_gradient_checkpointing=False), ids)
    want = _lora_gradients(reference, ids)
    assert got.keys() == want.keys() and len(got) == 28
    wrong = [name for name in got if got[name] is None or relative(got[name], want[name]) > 0.05]
    if repacked:
        assert len(wrong) > len(got) // 2, "the repacked 4-bit weights pass gradients again: see the docstring"
    else:
        assert wrong == []


@pytest.fixture(scope="module")
def qlora_persona(tiny_model_dir, tmp_path_factory):
    """A persona trained in 4-bit on the CPU through `train_persona`, with the CPU refusal lifted and no pass
    without gradients before or during training (no replay answers, validation or probe)."""
    import studio.training.run as run

    registry = PersonaRegistry(tmp_path_factory.mktemp("qlora-personas"))
    config = TrainConfig(base_model=str(tiny_model_dir), method="qlora", max_steps=8, learning_rate=5e-3, batch_size=4,
                         replay_share=0, eval_steps=0, probe_steps=0, evaluate=False, seed=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run, "use_4bit", lambda method: True)
        result = run.train_persona([Post(text) for text in POSTS * 3], "quarter", config, registry=registry)
    result.model.eval()
    return result, registry


def test_qlora_trains_on_cpu_through_train_persona(qlora_persona, tiny_model_dir):
    result, _ = qlora_persona
    metrics = result.persona.metrics
    assert metrics["method"] == "qlora-nf4" and result.steps == 8
    losses = metrics["loss_history"]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
    trained = result.model
    assert any(p.abs().sum() > 0 for n, p in trained.named_parameters() if "lora_B" in n)  # B starts at zero
    fresh = load_model(resolve_base(str(tiny_model_dir)), four_bit=True)
    for name, module in fresh.named_modules():  # the packed NF4 bytes of the base did not move
        if isinstance(module, bnb.nn.Linear4bit):
            layer = trained.base_model.model.get_submodule(name).base_layer
            assert not getattr(layer.weight.quant_state, "packing_format_for_cpu", False)
            assert torch.equal(layer.weight.data, module.weight.data), name


def test_adapter_reloads_onto_a_4bit_base_with_the_same_logits(qlora_persona, tiny_model_dir):
    from peft import PeftModel

    result, registry = qlora_persona
    adapter = registry.get(result.persona.slug).adapter_dir
    assert (adapter / "adapter_model.safetensors").is_file()
    reloaded = PeftModel.from_pretrained(load_model(resolve_base(str(tiny_model_dir)), four_bit=True), str(adapter))
    ids = ids_batch(seed=4)
    assert relative(logits(reloaded, ids), logits(copy.deepcopy(result.model), ids)) < 0.01  # bf16 compute: 0.4 % here


def test_adapter_applies_to_the_fp32_base_and_chats(qlora_persona, tiny_model_dir):
    """On the dequantized weights the adapter gives the 4-bit model's logits; on the real fp32 base it moves
    the logits the same way; the chat engine (fp32 base) answers as the persona."""
    from peft import PeftModel

    from studio.chat.engine import ChatEngine
    from studio.chat.config import GenerationConfig

    result, registry = qlora_persona
    persona = registry.get(result.persona.slug)
    ref = resolve_base(str(tiny_model_dir))
    four_bit = load_model(ref, four_bit=True)
    on_dequantized = PeftModel.from_pretrained(dequantized_copy(tiny_model_dir, four_bit), str(persona.adapter_dir))
    on_four_bit = PeftModel.from_pretrained(four_bit, str(persona.adapter_dir))
    ids = ids_batch(seed=5)
    assert relative(logits(on_four_bit, ids), logits(on_dequantized, ids)) < 0.02
    base = load_model(ref)
    plain = logits(base, ids)
    on_fp32 = PeftModel.from_pretrained(base, str(persona.adapter_dir))
    with on_four_bit.disable_adapter():
        plain_4bit = logits(on_four_bit, ids)
    moved, moved_4bit = logits(on_fp32, ids) - plain, logits(on_four_bit, ids) - plain_4bit
    assert moved.norm() > 0
    assert torch.nn.functional.cosine_similarity(moved.flatten(), moved_4bit.flatten(), dim=0) > 0.8
    engine = ChatEngine(str(tiny_model_dir))
    reply = list(engine.stream(persona, "hello", settings=GenerationConfig(max_new_tokens=6, temperature=0.0)))
    assert reply and reply[-1].strip()


def test_qlora_is_refused_on_cpu_with_the_reason(tiny_model_dir, tmp_path):
    from studio.training.run import train_persona

    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=1, method="qlora")
    with pytest.raises(ConfigError, match="needs a CUDA GPU") as refused:
        train_persona([Post(p) for p in POSTS], "q", config, registry=PersonaRegistry(tmp_path))
    assert "gradient" in str(refused.value) and "'lora'" in str(refused.value)
