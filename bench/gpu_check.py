"""Check a bare CUDA machine in a few minutes, offline: the studio's GPU paths run, with their figures.

    bash bench/gpu_check.sh              # on the GPU machine (installs carried wheels first, then runs this)
    python bench/gpu_check.py --dry-run  # the same steps on a CPU with tiny sizes (tests/test_gpu_check.py)

Nothing is downloaded: the models are random-initialised from real configs (SmolLM2-135M-Instruct's and
Qwen2.5-1.5B-Instruct's, written below), with a byte-level BPE tokenizer trained here on the README's words
(ChatML template). The tokenizer's vocabulary is smaller than the configs', so the embedding rows past it are
zero: greedy decoding never picks them, and the shapes (and the cost) stay the real ones.

Steps, one row each in the summary table:
1. training through `studio.training.run.train_persona` (posts -> cleaning -> chat examples -> the studio's
   Trainer -> a persona in a scratch registry): QLoRA (4-bit NF4, bf16 compute) and bf16 LoRA on each shape;
   posts/s over the steps after the first (CUDA start-up and kernel choice left out) and peak GPU memory
   (torch.cuda.max_memory_allocated over the whole job: load, train, save). No replay, validation or probe:
   the rows measure training alone.
2. QLoRA correctness on a tiny Llama: the loss falls, the adapter saves, and reloaded onto a fresh 4-bit base it
   gives the trained model's logits.
3. a batched three-pane chat through the studio's chat engine (studio.chat.engine): the base model and the two
   SmolLM2-shaped personas of step 1 answer one message in ONE batched generate, greedy.
4. the suite's GPU tests: `pytest -m gpu tests/test_gpu.py` in a subprocess (skipped there without CUDA).

--dry-run: the same steps on the CPU with tiny shapes and a few steps. The studio refuses QLoRA on a CPU
(studio.models.QLORA_ON_CPU): the dry run lifts that refusal for its QLoRA rows only, which is sound for a
fresh model with no pass without gradients (tests/test_qlora_cpu.py); without bitsandbytes they are skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# config.json of HuggingFaceTB/SmolLM2-135M-Instruct (the bundled base), as published
SMOLLM2_135M = {
    "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
    "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64, "hidden_act": "silu",
    "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "tie_word_embeddings": True,
    "vocab_size": 49152, "attention_bias": False, "mlp_bias": False,
}
# config.json of Qwen/Qwen2.5-1.5B-Instruct, as published
QWEN2_1_5B = {
    "model_type": "qwen2", "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
    "num_attention_heads": 12, "num_key_value_heads": 2, "hidden_act": "silu", "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True, "vocab_size": 151936,
    "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 21,
}
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 4096}
TINY_LLAMA = {**SMOLLM2_135M, **TINY}
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def words() -> list[str]:
    """Distinct plain words of the README: the tokenizer's corpus and the posts' vocabulary."""
    text = (ROOT / "README.md").read_text("utf-8")
    return sorted({w.lower() for w in re.findall(r"[A-Za-z]{3,12}", text)})


def make_posts(count: int, seed: int = 0) -> list:
    """`count` distinct tweet-like posts of README words (the cleaning keeps them all)."""
    from studio.ingest import Post

    rng, vocabulary = random.Random(seed), words()
    texts = {" ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 22))).capitalize() + rng.choice(".!?")
             for _ in range(count)}
    return [Post(text) for text in sorted(texts)]


def build_tokenizer(vocab_size: int = 2000):
    """A byte-level BPE tokenizer trained on the README's text, with ChatML's special tokens and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator((ROOT / "README.md").read_text("utf-8").splitlines(), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", chat_template=CHATML)


def model_folder(folder: Path, shape: dict, tokenizer, device: str) -> Path:
    """A random-initialised model of `shape` saved with `tokenizer` (bf16 on CUDA, fp32 on CPU); the
    embedding rows past the tokenizer's vocabulary are zero (never chosen by greedy decoding)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    settings = dict(shape)
    config = AutoConfig.for_model(settings.pop("model_type"), **settings, bos_token_id=tokenizer.bos_token_id,
                                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    with torch.no_grad():
        model.get_input_embeddings().weight[len(tokenizer):] = 0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    free_memory()
    return folder


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def has_bitsandbytes() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


@contextlib.contextmanager
def lifted_cpu_refusal(method: str, dry_run: bool):
    """On a CPU dry run, QLoRA rows run with studio.models' CPU refusal lifted (see the module docstring)."""
    if not (dry_run and method == "qlora"):
        yield
        return
    import studio.training.run as run

    refuse = run.use_4bit
    run.use_4bit = lambda method: True
    try:
        yield
    finally:
        run.use_4bit = refuse


def train(folder: Path, method: str, name: str, registry, steps: int, batch: int, dry_run: bool,
          learning_rate: float = 2e-4, posts: int = 0):
    """One persona trained by train_persona; (result, seconds per step after the first, peak GiB or None)."""
    import torch

    from studio.training.config import TrainConfig
    from studio.training.run import train_persona

    config = TrainConfig(base_model=str(folder), method=method, max_steps=steps, batch_size=batch,
                         learning_rate=learning_rate, replay_share=0, eval_steps=0, probe_steps=0, evaluate=False,
                         lora_layers=0, seed=0)
    elapsed: list[float] = []
    cuda = torch.cuda.is_available()
    if cuda:
        free_memory()
        torch.cuda.reset_peak_memory_stats()
    with lifted_cpu_refusal(method, dry_run):
        result = train_persona(make_posts(posts or steps * batch + 40), name, config, registry=registry,
                               progress=lambda e: elapsed.append(time.perf_counter()) if e["event"] == "step" else None)
    per_step = (elapsed[-1] - elapsed[0]) / (len(elapsed) - 1) if len(elapsed) > 1 else result.seconds
    per_step = max(per_step, 1e-6)  # (an event's elapsed_s is rounded: tiny dry-run steps read as 0 s)
    return result, per_step, (torch.cuda.max_memory_allocated() / 2**30 if cuda else None)


def training_rows(folders: dict, registry, dry_run: bool, rows: list) -> dict:
    """QLoRA and bf16 LoRA on each shape; the SmolLM2-shaped personas are kept for the chat."""
    personas = {}
    steps, batch = (3, 4) if dry_run else (12, 16)
    lora = "fp32 LoRA (CPU)" if dry_run else "bf16 LoRA"
    for shape, folder in folders.items():
        for method, label in (("qlora", "QLoRA NF4"), ("lora", lora)):
            what = f"train {label}, {shape}"
            if method == "qlora" and not has_bitsandbytes():
                rows.append((what, "skipped", "bitsandbytes is not installed (see bench/gpu_check.sh)"))
                continue
            result, per_step, peak = train(folder, method, f"{shape}-{method}", registry, steps, batch, dry_run)
            memory = f", peak GPU memory {peak:.2f} GiB" if peak is not None else ""
            rows.append((what, "ok", f"{batch / per_step:.1f} posts/s ({steps} steps of {batch}, "
                                     f"{per_step:.2f} s/step){memory}, loss {result.final_loss}"))
            if shape.startswith("SmolLM2"):
                personas[method] = result.persona
            del result
            free_memory()
    return personas


def qlora_correctness(folder: Path, registry, dry_run: bool) -> tuple:
    """On a tiny Llama: QLoRA's loss falls, its adapter saves, and reloads onto a fresh 4-bit base with its logits."""
    import torch
    from peft import PeftModel

    from studio.models import load_model, resolve_base

    if not has_bitsandbytes():
        return ("QLoRA correctness, tiny Llama", "skipped", "bitsandbytes is not installed")
    result, _, _ = train(folder, "qlora", "tiny-qlora", registry, steps=20, batch=4, dry_run=dry_run,
                         learning_rate=5e-3)
    losses = result.persona.metrics["loss_history"]
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    adapter = registry.get(result.persona.slug).adapter_dir
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with lifted_cpu_refusal("qlora", dry_run):
        reloaded = PeftModel.from_pretrained(load_model(resolve_base(str(folder)), four_bit=True), str(adapter))
    ids = torch.randint(0, 1000, (2, 24), generator=torch.Generator().manual_seed(1)).to(device)
    trained = result.model.eval()
    with torch.no_grad():
        want, got = trained(input_ids=ids).logits.float(), reloaded(input_ids=ids).logits.float()
    gap = ((got - want).norm() / want.norm()).item()  # bf16 compute: 0.4 % on the CPU
    ok = last < first and gap < 0.01
    return ("QLoRA correctness, tiny Llama", "ok" if ok else "FAILED",
            f"loss {first:.3f} -> {last:.3f} over 20 steps; reloaded adapter: logits within {gap:.2%}")


def three_pane_chat(folder: Path, personas: dict, new_tokens: int) -> tuple:
    """The base model and the two SmolLM2-shaped personas answer one message in one batched generate."""
    from studio.chat.config import GenerationConfig
    from studio.chat.engine import ChatEngine, Row

    what = "three-pane chat, SmolLM2-135M shape"
    if not personas:
        return (what, "skipped", "no SmolLM2-shaped persona was trained")
    engine = ChatEngine(str(folder))
    settings = GenerationConfig(max_new_tokens=new_tokens, temperature=0.0)
    panes = [(None, None)] + [(p, None) for p in personas.values()]
    if len(panes) < 3:  # no QLoRA persona (no bitsandbytes): the LoRA one again, under another system prompt
        panes.append((personas["lora"], "Answer in one line."))
    rows = [Row.make(p, "How was your day?", system_prompt=prompt, settings=settings) for p, prompt in panes]
    list(engine.stream_batch([Row.make(None, "hi", settings=GenerationConfig(max_new_tokens=2, temperature=0.0))]))
    started, first, texts = time.perf_counter(), None, []
    for texts in engine.stream_batch(rows):
        first = first or (time.perf_counter() - started if any(texts) else None)
    seconds = time.perf_counter() - started
    tokens = [len(engine.tokenizer(text, add_special_tokens=False).input_ids) for text in texts]
    ok = len(texts) == 3 and all(tokens)
    return (what, "ok" if ok else "FAILED", f"base + {len(personas)} persona(s): tokens per pane {tokens} in {seconds:.2f} s "
            f"({sum(tokens) / seconds:.0f} tokens/s), first text after {first or seconds:.2f} s, one batch")


def gpu_tests() -> tuple:
    """`pytest -m gpu` on the GPU test file, in its own process."""
    import importlib.util

    if importlib.util.find_spec("pytest") is None:
        return ("pytest -m gpu", "skipped", "pytest is not installed (see bench/gpu_check.sh)")
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
                           "tests/test_gpu.py"], cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else done.stderr.strip()[-200:]
    return ("pytest -m gpu", "ok" if done.returncode in (0, 5) else "FAILED", summary)


def print_table(rows: list, header: str) -> None:
    width = max(len(row[0]) for row in rows)
    print(f"\n{header}\n{'check'.ljust(width)} | result  | figures")
    print(f"{'-' * width}-|---------|--------")
    for what, status, figures in rows:
        print(f"{what.ljust(width)} | {status.ljust(7)} | {figures}")


def machine(dry_run: bool) -> str:
    import torch
    import transformers

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return (f"gpu_check{' --dry-run' if dry_run else ''}: {device}, torch {torch.__version__}, "
            f"transformers {transformers.__version__}, bitsandbytes {'yes' if has_bitsandbytes() else 'no'}")


def run_steps(dry_run: bool, scratch: Path, rows: list) -> None:
    from studio.persona.registry import PersonaRegistry

    device = "cpu" if dry_run else "cuda"
    registry = PersonaRegistry(scratch / "personas")
    tokenizer = build_tokenizer()
    started = time.perf_counter()
    shapes = {"SmolLM2-135M": {**SMOLLM2_135M, **(TINY if dry_run else {})},
              "Qwen2-1.5B": {**QWEN2_1_5B, **(TINY if dry_run else {})}}
    folders = {name: model_folder(scratch / name, shape, tokenizer, device) for name, shape in shapes.items()}
    tiny = model_folder(scratch / "tiny-llama", TINY_LLAMA, tokenizer, device)
    rows.append(("build models from configs", "ok", f"{', '.join(folders)} and a tiny Llama, random weights, "
                 f"{time.perf_counter() - started:.1f} s"))
    steps = [lambda: training_rows(folders, registry, dry_run, rows),
             lambda: rows.append(qlora_correctness(tiny, registry, dry_run))]
    personas = {}
    for step in steps:
        personas = step() or personas
    rows.append(three_pane_chat(folders["SmolLM2-135M"], personas, new_tokens=8 if dry_run else 48))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU with tiny sizes")
    args = parser.parse_args(argv)
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("No CUDA GPU: run with --dry-run for the CPU rehearsal.", file=sys.stderr)
        return 2
    started, rows = time.perf_counter(), []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ["STUDIO_CACHE"] = str(Path(scratch) / "cache")
        try:
            run_steps(args.dry_run, Path(scratch), rows)
        except Exception as exc:  # the table still prints, with the step that broke
            rows.append(("(the step after the last row)", "FAILED", f"{type(exc).__name__}: {exc}"[:300]))
    rows.append(gpu_tests())
    header = f"{machine(args.dry_run)}; {time.perf_counter() - started:.0f} s in all"
    print_table(rows, header)
    return 1 if any(status == "FAILED" for _, status, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
