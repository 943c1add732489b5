"""The studio on a CUDA GPU (`pytest -m gpu`; bench/gpu_check.sh runs them): QLoRA with everything the CPU cannot
do (replay answers, validation and the knowledge probe between steps, tests/test_qlora_cpu.py says why), and
its personas in the chat engine. Offline: a tiny Llama with bench/gpu_check.py's tokenizer, no GGUF, no Hub.
Skipped without CUDA."""

from __future__ import annotations

import pytest
import torch

from bench.gpu_check import TINY_LLAMA, build_tokenizer, make_posts, model_folder
from studio.models import load_model, resolve_base
from studio.persona.registry import PersonaRegistry
from studio.training.config import TrainConfig

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def cuda_model_dir(tmp_path_factory):
    return model_folder(tmp_path_factory.mktemp("cuda-llama"), TINY_LLAMA, build_tokenizer(), "cuda")


@pytest.fixture(scope="module")
def trained(cuda_model_dir, tmp_path_factory):
    """method 'auto' on CUDA: QLoRA, with replay, validation every 4 steps and the probe every 5."""
    from studio.training.run import train_persona

    registry = PersonaRegistry(tmp_path_factory.mktemp("cuda-personas"))
    config = TrainConfig(base_model=str(cuda_model_dir), method="auto", max_steps=12, learning_rate=5e-3,
                         eval_steps=4, probe_steps=5, probe_stop_drop=0, evaluate=False, seed=0)
    return train_persona(make_posts(120), "gpu-persona", config, registry=registry), registry


def test_auto_trains_qlora_on_cuda_through_validation_and_replay(trained, cuda_model_dir):
    import bitsandbytes as bnb

    result, _ = trained
    metrics = result.persona.metrics
    assert metrics["method"] == "qlora-nf4" and metrics["device"] == "cuda"
    assert metrics["eval_history"], "validation ran between steps"
    losses = metrics["loss_history"]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
    assert any(p.abs().sum() > 0 for n, p in result.model.named_parameters() if "lora_B" in n)
    fresh = load_model(resolve_base(str(cuda_model_dir)), four_bit=True)
    for name, module in fresh.named_modules():  # the 4-bit base did not move
        if isinstance(module, bnb.nn.Linear4bit):
            layer = result.model.base_model.model.get_submodule(name).base_layer
            assert torch.equal(layer.weight.data, module.weight.data), name


def test_4bit_gradients_on_cuda_survive_inference(cuda_model_dir):
    """The CPU failure (tests/test_qlora_cpu.py): gradients after a no-grad pass. On CUDA they stay right."""
    import bitsandbytes as bnb
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    ref = resolve_base(str(cuda_model_dir))
    model = load_model(ref, four_bit=True)
    reference = load_model(ref).float()
    for name, module in model.named_modules():
        if isinstance(module, bnb.nn.Linear4bit):
            weight = bnb.functional.dequantize_4bit(module.weight.data, module.weight.quant_state)
            reference.get_submodule(name).weight.data.copy_(weight.float())
    ids = torch.randint(0, 1000, (3, 20), generator=torch.Generator().manual_seed(1)).cuda()
    with torch.no_grad():
        model(input_ids=ids)  # what generate, validation and the probe do
    grads = []
    for m in (prepare_model_for_kbit_training(model, use_gradient_checkpointing=False), reference):
        torch.manual_seed(3)
        peft_model = get_peft_model(m, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0,
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
        peft_model.train()
        peft_model(input_ids=ids, labels=ids).loss.backward()
        grads.append({n: p.grad.float() for n, p in peft_model.named_parameters() if p.requires_grad})
    got, want = grads
    wrong = [n for n in got if ((got[n] - want[n]).norm() / want[n].norm()).item() > 0.1]
    assert len(got) == 28 and wrong == []


def test_qlora_persona_chats_on_the_bf16_base_beside_the_base(trained, cuda_model_dir):
    from studio.chat.config import GenerationConfig
    from studio.chat.engine import ChatEngine, Row

    result, registry = trained
    persona = registry.get(result.persona.slug)
    engine = ChatEngine(str(cuda_model_dir))
    assert next(engine.model.parameters()).dtype == torch.bfloat16
    settings = GenerationConfig(max_new_tokens=8, temperature=0.0)
    texts = []
    for texts in engine.stream_batch([Row.make(None, "hello", settings=settings), Row.make(persona, "hello", settings=settings)]):
        pass
    assert len(texts) == 2 and all(text.strip() for text in texts)
