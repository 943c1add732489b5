"""Training speed, memory and one-epoch quality on the bundled SmolLM2-135M-Instruct (fp32, CPU):
the studio's trainer against the seed recipe, both run by this script, each recipe in its own process.

    python bench/train.py [--sample-posts 200] [--repeats 2] [--steps 8] [--epoch-posts 100] [--val-posts 40] [--fixtures koume andre]

studio trainer: `studio.training.run.train_persona` with `TrainConfig` defaults except the length of the run, on
    cleaned posts: LoRA on all linear layers; length-grouped batches padded to their own longest example
    (cut at max_length), a batch wider than 512 tokens run in parts, each run as one row with the opening its
    rows share (chat markup, system prompt) once; loss on the post's tokens only.
seed recipe: the same cleaned train split, system prompt and user turns (studio.chat_format's chat format),
    every example padded to the longest example of the whole set (tokenizer padding=True, no truncation),
    labels = input_ids with padding masked to -100 (loss on system + user + post; `--seed-labels assistant`
    masks all but the post), HF `Trainer` with its random sampler, LoRA r=16 alpha=32 dropout 0.05 on
    q_proj/v_proj, batch 4, fp32; learning rate and linear schedule as the studio's, so only the recipe differs.

1. posts/s: the studio trains one whole epoch of `--sample-posts` posts drawn at random (seeded) from the
   fixture's cleaned posts, timed from its first training step to the end of its last (data, forward,
   backward, optimizer, Trainer overhead; no warm-up step left out): its posts/s depend on which posts, so
   it is measured over a sample of them all, not extrapolated. The seed recipe's rows are all as wide (the
   longest of its train split), so every post costs the same: it runs `--steps` optimizer steps after one
   warm-up step (timed from the end of step 1 to the end of step 1+steps). Also printed: the share of
   padding tokens, and the share of tokens that carry the loss (labels != -100; for the studio the post's
   tokens, the rest of the real tokens being the system prompt and user turn).
2. achieved FLOP/s: the work done / seconds, beside the fp32 matmul peak of this machine (2048x2048
   torch.matmul, torch's default threads). Work: 4 x (parameters - output layer) per token computed (the seed:
   padding included; the studio: the tokens of its one rows) + 4 x output layer per position whose logits were
   computed (the seed: every position; the studio: the post's tokens).
3. peak resident memory (VmHWM) of each recipe's process: import, load, tokenise, train (the most of its runs).
Each speed run is its own process; `--repeats` runs per recipe alternate (studio, seed, studio, seed) and the
fastest of each recipe counts, as timing tools do: this 2-core machine is shared, and its speed drifts by
10-20 % over minutes (the matmul peak printed first is a hint of it).
4. validation loss after one epoch on a seeded subset of each fixture: `--epoch-posts` posts for training
   (ceil(n / 4) steps), `--val-posts` other posts held out, the same for both recipes; the loss is the mean
   cross-entropy over the post's tokens (assistant turn, with its end marker) of each held-out example, run
   one at a time, so padding has no influence; the base model without training is the baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = {"koume": ROOT.parent / "shared" / "fixtures" / "koume-dayuu-tweets.csv",
            "andre": ROOT.parent / "shared" / "fixtures" / "x-archive-andreruffert.zip"}
sys.path.insert(0, str(ROOT / "bench"))
from seed_recipe import BATCH, NAME  # noqa: E402  (the seed recipe's trainer lives in bench/seed_recipe.py)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


class Recorder:
    """Times every optimizer step (a global torch hook) and records the batches the Trainer trains on
    (a batch the studio runs in parts is recorded part by part, under its optimizer step)."""

    def __init__(self):
        import torch
        from torch.optim.optimizer import register_optimizer_step_post_hook
        from transformers import Trainer

        from studio.training.batches import one_row, one_row_is_exact

        self.step_ends, self.records, self.first_start, self.data = [], [], None, {}
        register_optimizer_step_post_hook(lambda *_: self.step_ends.append(time.perf_counter()))
        original = Trainer.training_step

        def training_step(trainer, model, inputs, *args, **kwargs):
            ids, mask, labels = inputs["input_ids"], inputs.get("attention_mask"), inputs["labels"]
            if self.first_start is None:  # the data set as the Trainer holds it: tokens per post
                self.first_start, rows = time.perf_counter(), trainer.train_dataset
                widths = [len(r["input_ids"]) for r in rows]
                self.data = {"dataset_rows": len(widths), "mean_width": sum(widths) / len(widths), "same_width": len(set(widths)) == 1}
            studio = type(trainer).__name__ == "PostTokenTrainer"
            labelled = int((labels != -100).sum())
            # the studio runs a batch's rows as one row (as PostTokenTrainer.compute_loss decides)
            row = one_row(inputs, torch.float32) if studio and one_row_is_exact(trainer.model.config, ids.shape[1]) else None
            self.records.append({"step": len(self.step_ends), "rows": ids.shape[0], "tokens": ids.numel(),
                                 "real": int(mask.sum()) if mask is not None else ids.numel(), "labelled": labelled,
                                 "computed": row["input_ids"].numel() if row is not None else ids.numel(),
                                 "logits": labelled if studio else ids.numel(), "width": ids.shape[1]})
            return original(trainer, model, inputs, *args, **kwargs)

        Trainer.training_step = training_step

    def summary(self, skip: int, steps: int) -> dict:
        timed = [r for r in self.records if skip <= r["step"] < skip + steps]
        start = self.step_ends[skip - 1] if skip else self.first_start
        total = {key: sum(r[key] for r in timed) for key in ("rows", "tokens", "real", "labelled", "computed", "logits")}
        return {"seconds": self.step_ends[skip + steps - 1] - start, "steps": steps, **total,
                "widest": max(r["width"] for r in timed), **self.data}


def cleaned_split(fixture: str):
    from studio.clean import CleanConfig, clean_posts, split_posts
    from studio.ingest import load_file

    posts, report = clean_posts(load_file(FIXTURES[fixture]), CleanConfig())
    return posts, report, *split_posts(posts, CleanConfig())


def epoch_subset(fixture: str, n_train: int, n_val: int):
    posts, report, _, _ = cleaned_split(fixture)
    chosen = random.Random(0).sample(posts, min(len(posts), n_train + n_val))
    return chosen[:n_train], chosen[n_train:], report


def run_studio(fixture: str, mode: str, args) -> tuple:
    from studio.clean import CleanConfig
    from studio.training.config import TrainConfig
    from studio.persona.registry import PersonaRegistry
    from studio.training.run import train_persona

    registry = PersonaRegistry(Path(os.environ["PERSONAS_DIR"]))
    train, val, report = epoch_subset(fixture, *((args.sample_posts, 0) if mode == "speed" else (args.epoch_posts, args.val_posts)))
    config = TrainConfig(epochs=1, evaluate=False)
    result = train_persona(train, NAME, config, registry=registry, clean=CleanConfig(validation_fraction=0), report=report)
    return result.model, val


def run_seed(fixture: str, mode: str, args) -> tuple:
    from seed_recipe import seed_train

    if mode == "speed":
        _, _, train, val = cleaned_split(fixture)
        steps = 1 + args.steps
    else:
        train, val, _ = epoch_subset(fixture, args.epoch_posts, args.val_posts)
        steps = math.ceil(len(train) / BATCH)
    return seed_train(train, steps, "bundled", args.seed_labels), val


def validation_loss(model, posts) -> float:
    """Mean cross-entropy over the post tokens of each held-out example, one example at a time (no padding)."""
    import torch

    from studio.chat_format import build_examples, default_system_prompt
    from studio.models import load_tokenizer, resolve_base

    tokenizer = load_tokenizer(resolve_base("bundled"))
    examples = build_examples(posts, tokenizer, default_system_prompt(NAME), 10 ** 6, seed=1)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for e in examples:
            logits = model(input_ids=torch.tensor([e["input_ids"]])).logits[0, :-1]
            labels = torch.tensor(e["labels"][1:])
            total += float(torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100, reduction="sum"))
            count += int((labels != -100).sum())
    return total / count


def base_validation_loss(fixture: str, args) -> float:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils.logging import disable_progress_bar

    from studio.models import resolve_base

    disable_progress_bar()
    _, val, _ = epoch_subset(fixture, args.epoch_posts, args.val_posts)
    return validation_loss(AutoModelForCausalLM.from_pretrained(resolve_base("bundled").path, dtype=torch.float32), val)


def child(recipe: str, fixture: str, mode: str, args) -> None:
    """One recipe in its own process, so that its peak memory is its own; prints one JSON line."""
    recorder = Recorder()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        os.environ["PERSONAS_DIR"] = scratch
        model, val = (run_studio if recipe == "studio" else run_seed)(fixture, mode, args)
    config = model.get_base_model().config
    out = {"peak_mb": peak_rss_mb(), "params": sum(p.numel() for p in model.parameters()),
           "vocab": config.vocab_size, "hidden": config.hidden_size}
    if mode == "speed" and recipe == "seed":
        out.update(recorder.summary(1, args.steps))
    else:
        out.update(recorder.summary(0, len(recorder.step_ends)))
    if mode == "epoch":
        out["val_loss"] = validation_loss(model, val)
    print(json.dumps(out))


def spawn(recipe: str, fixture: str, mode: str, args) -> dict | None:
    command = [sys.executable, __file__, "--child", recipe, fixture, mode, "--steps", str(args.steps), "--sample-posts", str(args.sample_posts),
               "--epoch-posts", str(args.epoch_posts), "--val-posts", str(args.val_posts), "--seed-labels", args.seed_labels]
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error"}
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        print(f"  {recipe} {fixture} {mode}: failed\n{out.stderr[-3000:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def describe(label: str, r: dict, peak: float) -> str:
    """Achieved FLOP/s counts the work done: 4 x (parameters - output layer) per token computed,
    4 x output layer per position whose logits were computed (the studio: the post's tokens only)."""
    head = r["vocab"] * r["hidden"]
    flops = 4 * ((r["params"] - head) * r["computed"] + head * r["logits"]) / r["seconds"]
    return (f"  {label:<13} {r['rows']:>3} posts in {r['steps']:>2} steps, {r['seconds']:6.1f} s = {r['rows'] / r['seconds']:5.2f} posts/s | "
            f"{r['tokens']:>5} tokens, padding {1 - r['real'] / r['tokens']:5.1%}, loss on {r['labelled'] / r['tokens']:5.1%}, "
            + (f"computed {r['computed']} (one row a batch, shared openings once), " if r["computed"] != r["tokens"] else "")
            + f"widest {r['widest']} | {flops / 1e9:5.1f} GFLOP/s achieved "
            f"({flops / peak:5.1%} of the matmul peak) | peak RSS {r['peak_mb'] / 1024:4.2f} GB, {r['params'] / 1e6:.1f} M params")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample-posts", type=int, default=200, help="posts the studio trains for one epoch per fixture (a seeded random sample)")
    parser.add_argument("--repeats", type=int, default=2, help="speed runs per recipe and fixture, alternated; the fastest counts")
    parser.add_argument("--steps", type=int, default=8, help="timed optimizer steps of the seed recipe per fixture (after 1 warm-up step)")
    parser.add_argument("--fixtures", nargs="+", default=list(FIXTURES), choices=list(FIXTURES))
    parser.add_argument("--epoch-posts", type=int, default=100, help="posts trained for one epoch (on each fixture); 0 = skip")
    parser.add_argument("--val-posts", type=int, default=40, help="held-out posts for the validation loss")
    parser.add_argument("--seed-labels", choices=["all", "assistant"], default="all",
                        help="seed recipe's labels: 'all' tokens but padding (naive), or the post's tokens only")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child, args)
    import torch

    from studio.training.config import TrainConfig

    started = time.perf_counter()
    peak = matmul_peak()
    c = TrainConfig()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs | fp32 matmul peak "
          f"(2048x2048): {peak / 1e9:.1f} GFLOP/s")
    print(f"settings: --sample-posts {args.sample_posts} --steps {args.steps} (+1 warm-up) --epoch-posts {args.epoch_posts} --val-posts {args.val_posts} "
          f"--seed-labels {args.seed_labels} | studio: TrainConfig defaults (rank {c.rank}, targets {getattr(c, 'target_modules', 'all-linear')}, "
          f"batch {c.batch_size}, parts of <= {c.max_batch_tokens} tokens, max_length {c.max_length}, lr {c.learning_rate}) except the length of the run")
    for fixture in args.fixtures:
        print(f"{FIXTURES[fixture].name}:")
        runs = {"studio": [], "seed": []}
        for _ in range(args.repeats):  # alternated, so that a slower spell of this shared machine hits both recipes
            for recipe in runs:
                r = spawn(recipe, fixture, "speed", args)
                if r:
                    runs[recipe].append(r)
        rate = lambda r: r["rows"] / r["seconds"]
        studio, seed = (max(runs[recipe], key=rate, default=None) for recipe in runs)
        print(f"  posts/s of each run: studio {', '.join(f'{rate(r):.2f}' for r in runs['studio'])}; "
              f"seed {', '.join(f'{rate(r):.2f}' for r in runs['seed'])} (the fastest run of each is shown)")
        for label, r in (("studio", studio), ("seed recipe", seed)):
            if r:
                print(describe(label, r, peak))
        if studio and seed:
            print(f"  -> studio trains {rate(studio) / rate(seed):.2f}x the seed recipe's posts/s (target >= 2.5x) | tokens/post: studio "
                  f"{studio['real'] / studio['rows']:.0f} (post {studio['labelled'] / studio['rows']:.0f}, system prompt + user turn "
                  f"{(studio['real'] - studio['labelled']) / studio['rows']:.0f}; computed {studio['computed'] / studio['rows']:.0f}), "
                  f"{studio['rows'] / studio['steps']:.1f} posts/step; "
                  f"seed rows {seed['mean_width']:.0f}")
            print(f"  -> peak RSS {max(r['peak_mb'] for r in runs['studio']) / 1024:.2f} GB vs "
                  f"{max(r['peak_mb'] for r in runs['seed']) / 1024:.2f} GB (target <= 2.5 GB)")
    for fixture in args.fixtures if args.epoch_posts else []:
        print(f"one epoch on {args.epoch_posts} posts of {FIXTURES[fixture].name}, validation loss on {args.val_posts} held-out posts "
              f"(post tokens only):")
        for recipe in ("studio", "seed"):
            r = spawn(recipe, fixture, "epoch", args)
            if r:
                print(f"  {recipe:<7} {r['steps']:>2} steps in {r['seconds']:6.1f} s: validation loss {r['val_loss']:.4f}")
        print(f"  baseline: base model, untrained: validation loss {base_validation_loss(fixture, args):.4f}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
