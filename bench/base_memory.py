"""The catalog's memory estimate (studio/catalog/memory.py) against the measured peak resident memory of a real
training run at the studio's defaults, on the Japanese fixture (koume: long posts, so rows near full length).

    python bench/base_memory.py [--steps 6] [--cases bundled,bundled-long,smollm2-360m-long]

Cases: `bundled` (the real SmolLM2-135M-Instruct on the posts as posted: about 118 tokens a row), `-long` (the
posts joined into rows of at least 400 characters, cut at max_length: every row full, the case the estimate is
for), `smollm2-360m` (a random model of SmolLM2-360M's shape, built from its config with the bundled tokenizer: a
second size, nothing downloaded). Each run is its own process; its peak is the kernel's VmHWM. Baseline from the same run: the resident memory of a process that imported the same
libraries and loaded nothing (the estimate's `runtime` term).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KOUME = ROOT.parent / "shared" / "fixtures" / "koume-dayuu-tweets.csv"
# SmolLM2-360M-Instruct's shape (its published config.json), for a random model of that size.
SHAPE_360M = dict(hidden_size=960, intermediate_size=2560, num_hidden_layers=32, num_attention_heads=15,
                  num_key_value_heads=5, max_position_embeddings=8192, tie_word_embeddings=True, rope_theta=100000.0)


def status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_360m(folder: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from studio.models import resolve_base

    bundled = resolve_base("bundled").path
    tokenizer = AutoTokenizer.from_pretrained(bundled)
    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **SHAPE_360M)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def joined(posts: list, chars: int = 400) -> list:
    """The posts joined in order into texts of at least `chars` characters (rows longer than max_length)."""
    from studio.ingest import Post

    texts, current = [], ""
    for post in posts:
        current = f"{current} {post.text}".strip()
        if len(current) >= chars:
            texts, current = texts + [current], ""
    return [Post(text) for text in texts]


def child(spec: str, steps: int, long: bool) -> None:
    """Train at the defaults (only max_steps changed); print, as one JSON line: the baseline, the resident memory
    when training starts (model, adapter, replay rows), the peak until then, and the peak while training (the
    kernel's high-water mark is reset at the start event: /proc/self/clear_refs)."""
    import peft  # noqa: F401  (the libraries training uses, imported before the baseline is read)
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from studio.clean import CleanConfig, clean_posts
    from studio.events import START
    from studio.ingest import load_posts
    from studio.training.config import TrainConfig
    from studio.training.run import train_persona

    found = {"baseline_mb": status_mb("VmRSS")}  # the libraries imported, nothing loaded

    def progress(event) -> None:
        if event["event"] == START:
            found.update(start_mb=status_mb("VmRSS"), load_peak_mb=status_mb("VmHWM"))
            Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from here

    posts, _ = clean_posts(load_posts([KOUME]), CleanConfig())
    posts = joined(posts) if long else posts
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        os.environ["PERSONAS_DIR"] = scratch
        train_persona(posts, "memory", TrainConfig(base_model=spec, max_steps=steps, evaluate=False), progress=progress)
    print(json.dumps({**found, "train_peak_mb": status_mb("VmHWM")}))


def measure(spec: str, steps: int, long: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", spec, "--steps", str(steps)] + ["--long"] * long,
                         capture_output=True, text=True,
                         env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"})
    if out.returncode:
        raise SystemExit(f"{spec}: training failed\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--cases", default="bundled,bundled-long,smollm2-360m-long")
    parser.add_argument("--child")
    parser.add_argument("--long", action="store_true")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.steps, args.long)
    from studio.catalog import describe
    from studio.catalog.memory import Workload
    from studio.training.config import TrainConfig

    work = Workload(**{name: getattr(TrainConfig(), name) for name in Workload.__dataclass_fields__})
    print(f"workload: {work} (TrainConfig's defaults), {work.tokens()} tokens a forward pass; fixture {KOUME.name}")
    with tempfile.TemporaryDirectory(prefix="bench-360m-") as scratch:
        for case in args.cases.split(","):
            model, long = case.removesuffix("-long"), case.endswith("-long")
            spec = "bundled" if model == "bundled" else str(Path(scratch) / model)
            if model == "smollm2-360m" and not Path(spec).exists():
                build_360m(Path(spec))
            entry = describe(spec, work)
            estimate = next(f for f in entry.fits if f.mode == "cpu-lora").need / 1e9
            got = {k: v * 1.048576 / 1000 for k, v in measure(spec, args.steps, long).items()}  # MiB -> GB
            peak = max(got["load_peak_mb"], got["train_peak_mb"])
            print(f"{case:<18} {entry.params / 1e6:4.0f}M params | estimate {estimate:.2f} GB | measured peak RSS {peak:.2f} GB "
                  f"(loading {got['load_peak_mb']:.2f}, training {got['train_peak_mb']:.2f}) | estimate / measured "
                  f"{estimate / peak:.2f} | baseline: libraries imported {got['baseline_mb']:.2f} GB, resident when "
                  f"training starts {got['start_mb']:.2f} GB")


if __name__ == "__main__":
    main()
