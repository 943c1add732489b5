"""The seed recipe's trainer, shared by bench/train.py and bench/quality.py: every example padded to the
longest example of the whole set (tokenizer padding=True, no truncation), labels = input_ids with padding
masked to -100 (`labels="assistant"` masks all but the post), HF `Trainer` with its random sampler, LoRA r=16
alpha=32 dropout 0.05 on q_proj/v_proj, batch 4, fp32; learning rate and linear schedule as the studio's.
"""

from __future__ import annotations

import tempfile
import time

NAME = "bench"  # persona name: the system prompt is studio.chat_format.default_system_prompt(NAME) in both recipes
BATCH = 4
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"]}


def seed_rows(posts, tokenizer, labels: str = "all") -> list[dict]:
    """The seed's data set: chat-format examples (no truncation) padded to the widest of the whole set."""
    import torch

    from studio.chat_format import build_examples, default_system_prompt

    examples = build_examples(posts, tokenizer, default_system_prompt(NAME), 10 ** 6, seed=0)  # no truncation
    width = max(len(e["input_ids"]) for e in examples)  # padding=True over the whole data set
    rows = []
    for e in examples:
        pad = width - len(e["input_ids"])
        row_labels = e["input_ids"] if labels == "all" else e["labels"]
        rows.append({"input_ids": torch.tensor(e["input_ids"] + [tokenizer.pad_token_id] * pad),
                     "attention_mask": torch.tensor([1] * len(e["input_ids"]) + [0] * pad),
                     "labels": torch.tensor(row_labels + [-100] * pad)})
    return rows


def seed_train(posts, steps: int, base: str = "bundled", labels: str = "all", learning_rate: float | None = None,
               callbacks: list | None = None):
    """Train the seed recipe for `steps` optimizer steps on `posts`; returns the PeftModel."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, PrinterCallback, Trainer, TrainingArguments, default_data_collator

    from studio.models import load_tokenizer, resolve_base
    from studio.training.config import TrainConfig

    ref = resolve_base(base)
    rows = seed_rows(posts, load_tokenizer(ref), labels)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(ref.path, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(**LORA, task_type="CAUSAL_LM"))
    with tempfile.TemporaryDirectory(prefix="bench-seed-") as scratch:
        targs = TrainingArguments(output_dir=scratch, max_steps=steps, per_device_train_batch_size=BATCH,
                                  learning_rate=learning_rate or TrainConfig().learning_rate, lr_scheduler_type="linear",
                                  logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, seed=0,
                                  use_cpu=True, remove_unused_columns=False, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=targs, train_dataset=rows, data_collator=default_data_collator, callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)  # no log dicts printed
        trainer.train()
    return model


def seed_posts_per_s(posts, base: str = "bundled", steps: int = 8, labels: str = "all") -> dict:
    """The seed recipe's training speed as bench/train.py measures it: `steps` optimizer steps timed after one
    warm-up step (all its rows are as wide, so every post costs the same)."""
    from transformers import TrainerCallback

    ends: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            ends.append(time.perf_counter())

    seed_train(posts, 1 + steps, base, labels, callbacks=[Clock()])
    seconds = ends[steps] - ends[0]
    return {"posts": steps * BATCH, "seconds": round(seconds, 2), "posts_per_s": round(steps * BATCH / seconds, 3)}
