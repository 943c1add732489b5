"""Walking-skeleton figures on the bundled SmolLM2-135M-Instruct, each beside a baseline from the same run.

    python bench/skeleton.py [--steps 20] [--posts ../shared/fixtures/koume-dayuu-tweets.csv]

1. GGUF -> fp32 conversion in a fresh cache       vs  loading the converted folder
2. N training steps with the studio's defaults     (and per step: length-grouped dynamic padding
                                                    vs random batches padded to max_length, the seed's recipe)
3. one chat reply through ChatEngine.stream        vs  plain model.generate on the same prompt
"""

from __future__ import annotations

import argparse
import os
import random

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_POSTS = ROOT.parent / "shared" / "fixtures" / "koume-dayuu-tweets.csv"
MESSAGE = "今日はどうだった？"


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench_conversion():
    from transformers import AutoModelForCausalLM

    from studio.models import bundled_folder

    folder, convert_s = timed(bundled_folder)
    _, load_s = timed(lambda: AutoModelForCausalLM.from_pretrained(folder))
    print(f"conversion   GGUF -> fp32 folder: {convert_s:6.1f} s   | baseline: load converted folder {load_s:.1f} s")


def bench_training(posts_path: Path, steps: int):
    from studio.training.config import TrainConfig
    from studio.ingest import load_file
    from studio.training.run import train_persona

    posts = load_file(posts_path)
    result = train_persona(posts, "bench", TrainConfig(max_steps=steps))
    print(f"training     {result.steps} steps (batch {TrainConfig.batch_size}, max_length {TrainConfig.max_length}): "
          f"{result.seconds:6.1f} s = {result.seconds / result.steps:.2f} s/step, final loss {result.final_loss}")
    return result


def bench_padding(result, posts_path: Path, batches: int = 8):
    """Forward+backward over the same posts: batches of similar length padded to their longest (what the
    length-grouped sampler and `pad_batch` do) against random batches padded to max_length (the seed's recipe)."""
    from studio.clean import clean_posts
    from studio.training.config import TrainConfig
    from studio.chat_format import build_examples, pad_batch
    from studio.ingest import load_file
    from studio.models import load_tokenizer, resolve_base

    config = TrainConfig()
    tokenizer = load_tokenizer(resolve_base("bundled"))
    posts, _ = clean_posts(load_file(posts_path))
    examples = build_examples(posts, tokenizer, result.persona.system_prompt, config.max_length)
    sample = random.Random(0).sample(examples, config.batch_size * batches)
    model = result.model
    model.train()

    def run(batch_list):
        start, tokens = time.perf_counter(), 0
        for batch in batch_list:
            b = pad_batch(batch, tokenizer.pad_token_id)
            tokens += b["input_ids"].numel()
            model(**b).loss.backward()
            model.zero_grad(set_to_none=True)
        return time.perf_counter() - start, tokens

    size = config.batch_size
    by_length = sorted(sample, key=lambda e: len(e["input_ids"]))
    grouped_s, grouped_tokens = run([by_length[i:i + size] for i in range(0, len(sample), size)])
    pad = tokenizer.pad_token_id
    wide = [{"input_ids": e["input_ids"] + [pad] * (config.max_length - len(e["input_ids"])),
             "labels": e["labels"] + [-100] * (config.max_length - len(e["input_ids"]))} for e in sample]
    padded_s, padded_tokens = run([wide[i:i + size] for i in range(0, len(sample), size)])
    real = sum(len(e["input_ids"]) for e in sample)
    print(f"batching     {len(sample)} posts ({real} real tokens), forward+backward: length groups + dynamic padding "
          f"{grouped_s:.1f} s ({grouped_tokens} tokens incl. padding)   | baseline: pad to {config.max_length}: "
          f"{padded_s:.1f} s ({padded_tokens} tokens) -> {padded_s / grouped_s:.2f}x faster")


def bench_chat(max_new_tokens: int = 48):
    """Greedy replies of the same length: the engine's base pane and persona pane against plain generate."""
    import torch

    from studio.chat.engine import ChatEngine
    from studio.chat.config import GenerationConfig
    from studio.chat_format import chat_messages
    from studio.persona.registry import PersonaRegistry

    engine, load_s = timed(lambda: ChatEngine("bundled"))
    persona = PersonaRegistry().get("bench")
    settings = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0)
    list(engine.stream(persona, "hi", settings=GenerationConfig(max_new_tokens=2)))  # warm-up, loads the adapter

    def pane(target):
        start, first, text = time.perf_counter(), None, ""
        for text in engine.stream(target, MESSAGE, persona.system_prompt, settings=settings):
            first = first or time.perf_counter() - start
        total = time.perf_counter() - start
        return len(engine.tokenizer(text, add_special_tokens=False)["input_ids"]), total, first

    inputs = engine.tokenizer.apply_chat_template(chat_messages(persona.system_prompt, MESSAGE), add_generation_prompt=True,
                                                  return_tensors="pt", return_dict=True)
    n_base, base_s, base_first = pane(None)
    n_persona, persona_s, persona_first = pane(persona)
    with engine.model.disable_adapter(), torch.no_grad():
        out, plain_s = timed(lambda: engine.model.get_base_model().generate(
            **inputs, max_new_tokens=n_base, min_new_tokens=n_base, do_sample=False, pad_token_id=engine.tokenizer.pad_token_id))
    plain_n = out.shape[1] - inputs["input_ids"].shape[1]
    print(f"chat         engine load {load_s:.1f} s (base already in memory)")
    print(f"  base pane    {n_base} tokens in {base_s:.2f} s = {n_base / base_s:.1f} tok/s, first token {base_first:.2f} s")
    print(f"  persona pane {n_persona} tokens in {persona_s:.2f} s = {n_persona / persona_s:.1f} tok/s, first token {persona_first:.2f} s")
    print(f"  baseline: plain model.generate, no adapters, no streaming: {plain_n} tokens in {plain_s:.2f} s = {plain_n / plain_s:.1f} tok/s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--posts", type=Path, default=DEFAULT_POSTS)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="studio-bench-")
    os.environ["STUDIO_CACHE"] = os.path.join(scratch, "cache")  # a fresh cache: the conversion is measured
    os.environ["PERSONAS_DIR"] = os.path.join(scratch, "personas")
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda={torch.cuda.is_available()}")
    bench_conversion()
    result = bench_training(args.posts, args.steps)
    bench_padding(result, args.posts)
    bench_chat()


if __name__ == "__main__":
    main()
