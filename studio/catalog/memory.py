"""How much memory training a base model takes, from its config alone, against what this machine has.

Memory estimate (`estimate`), in bytes, for one training run at the studio's defaults (`Workload`):

    need = weights + adapter + activations + runtime
    weights     = P x 4 (fp32 on a CPU), P x 2 (bf16 on a GPU), or P_lin x 0.5625 + (P - P_lin) x 2 (4-bit NF4
                  with double-quantised scales on the decoder's linear layers; embeddings, norms, output layer bf16)
    adapter     = P_lora x 16  (fp32 LoRA weight, its gradient and AdamW's two moments)
    activations = T x n_lora x (34 h + 10 i + 2 a S) x b + 2 x min(T x V x 4, 128 MiB)
    runtime     = 0.6 GB: RAM for Python, torch, transformers and peft on a CPU; the CUDA context on a GPU

P = parameters, P_lin = those of the decoder layers' linear projections, P_lora = LoRA parameters (rank r on every
linear projection of the top `lora_layers` decoder layers), T = tokens in one forward pass (batch x max_length, in
parts of at most `max_batch_tokens`), n_lora = decoder layers with adapters (the backward pass stops below them),
h = hidden size, i = intermediate size, a = attention heads, S = max_length, V = vocabulary, b = bytes per
activation (4: fp32 on a CPU, 2: bf16 on a GPU); the logits are fp32, made at most 128 MiB at a time, their loss
and gradient written over them (studio.training.losses), with one temporary of their size. The constants 34
and 10 (a Llama layer's saved tensors, with the allocator's slack) are set against the bundled model's measured
peak (`bench/base_memory.py`; README "Choosing the base model"). Rows are taken as full length: tweets use less.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GB = 1e9
RUNTIME_BYTES = int(0.6 * GB)
LOGITS_BYTES = 128 * 2 ** 20  # studio.training.losses.LOGITS_BYTES: the most logits the loss makes at once (tested equal)
NF4_BYTES = 0.5625  # 4 bits + one fp8 scale per 64 weights, double-quantised (bitsandbytes NF4)
MODES = (("cpu-lora", "LoRA fp32 on CPU"), ("gpu-lora", "bf16 LoRA on a GPU"), ("gpu-qlora", "4-bit QLoRA on a GPU"))
LAYER_INDEX = re.compile(r"\.(?:layers|h|blocks)\.(\d+)\.")


@dataclass
class Workload:
    """The training shape the estimate is for: TrainConfig's defaults (tests check they are the same)."""

    batch_size: int = 4
    max_length: int = 256
    max_batch_tokens: int = 1024
    rank: int = 8
    lora_layers: int = 6

    def tokens(self) -> int:  # in one forward pass: the batch, or one part of it when the batch is split
        whole = self.batch_size * self.max_length
        return max(self.max_length, min(whole, self.max_batch_tokens)) if self.max_batch_tokens else whole


@dataclass
class Shape:
    """What the estimate needs from a model's config (computed on the meta device, no weights)."""

    params: int
    linear_params: int
    lora_params: int
    lora_layers: int
    hidden: int
    intermediate: int
    heads: int
    vocab: int


@dataclass
class Machine:
    """Memory here: RAM available now, and the CUDA GPU's when there is one."""

    ram_available: int
    ram_total: int
    gpu_name: str | None = None
    gpu_total: int | None = None
    gpu_free: int | None = None


@dataclass
class Fit:
    mode: str
    label: str
    need: int
    have: int | None
    where: str

    @property
    def fits(self) -> bool | None:
        return None if self.have is None else self.need <= self.have

    def describe(self) -> str:
        mark = {True: "fits", False: "too big", None: "cannot check"}[self.fits]
        return f"{self.label}: ~{self.need / GB:.1f} GB ({self.where}): {mark}"


# Memory here ----------------------------------------------------------------------------------------------

def machine() -> Machine:
    """RAM from psutil when installed, else /proc/meminfo; the GPU from torch.cuda when there is one."""
    try:
        import psutil

        memory = psutil.virtual_memory()
        found = Machine(ram_available=memory.available, ram_total=memory.total)
    except ImportError:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        kib = {key: int(value.split()[0]) * 1024 for key, value in info.items()}
        found = Machine(ram_available=kib.get("MemAvailable", kib["MemFree"]), ram_total=kib["MemTotal"])
    import torch

    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        found.gpu_name, found.gpu_total, found.gpu_free = torch.cuda.get_device_name(0), total, free
    return found


def estimate(shape: Shape, work: Workload, here: Machine) -> list[Fit]:
    """Memory needed for each way of training (the formula in this module's docstring) against what is here."""
    tokens = work.tokens()
    logits = 2 * min(tokens * shape.vocab * 4, LOGITS_BYTES)  # fp32, a slice of rows at a time, and one temporary
    adapter = shape.lora_params * 16

    def activations(width: int) -> int:
        per_layer = (34 * shape.hidden + 10 * shape.intermediate + 2 * shape.heads * work.max_length) * width
        return tokens * shape.lora_layers * per_layer + logits

    weights = {"cpu-lora": shape.params * 4, "gpu-lora": shape.params * 2,
               "gpu-qlora": int(shape.linear_params * NF4_BYTES + (shape.params - shape.linear_params) * 2)}
    gpu_where = (f"{here.gpu_free / GB:.1f} GB free of {here.gpu_total / GB:.1f} GB on {here.gpu_name}"
                 if here.gpu_total else "no CUDA GPU here")
    fits = []
    for mode, label in MODES:
        need = weights[mode] + adapter + activations(4 if mode == "cpu-lora" else 2) + RUNTIME_BYTES
        if mode == "cpu-lora":
            fits.append(Fit(mode, label, need, here.ram_available, f"{here.ram_available / GB:.1f} GB RAM available"))
        else:
            fits.append(Fit(mode, label, need, here.gpu_free, gpu_where))
    return fits


# What a config says --------------------------------------------------------------------------------------

def model_shape(config, work: Workload) -> Shape:
    """Parameters of the model a config describes, counted on the meta device (no memory, no weights)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.pytorch_utils import Conv1D

    text = config.get_text_config()
    layers = getattr(text, "num_hidden_layers", 0) or 0
    with torch.device("meta"):  # the meta device also ties the embeddings as loading would (init_empty_weights does not)
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    first_trained = layers - work.lora_layers if work.lora_layers and work.lora_layers < layers else 0
    linear = lora = 0
    for name, module in model.named_modules():
        found = LAYER_INDEX.search(name + ".")
        if not found or not isinstance(module, (torch.nn.Linear, Conv1D)):
            continue
        linear += sum(p.numel() for p in module.parameters(recurse=False))
        if int(found.group(1)) >= first_trained:
            lora += work.rank * sum(module.weight.shape)
    hidden = text.hidden_size
    return Shape(params=sum(p.numel() for p in model.parameters()), linear_params=linear, lora_params=lora,
                 lora_layers=layers - first_trained, hidden=hidden,
                 intermediate=getattr(text, "intermediate_size", None) or 4 * hidden,
                 heads=text.num_attention_heads, vocab=text.vocab_size)
