"""Train a persona: LoRA on the base model (4-bit QLoRA on CUDA, fp32 LoRA on CPU), saved to the registry."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from studio.clean import CleanConfig, CleanReport, clean_posts, split_posts
from studio.config import TrainConfig
from studio.dataset import build_examples, default_system_prompt, pad_batch
from studio.errors import InputError, ModelError, PersonaError
from studio.ingest import Post
from studio.models import cuda_available, load_model, load_tokenizer, resolve_base, use_4bit
from studio.registry import Persona, PersonaRegistry, slugify

log = logging.getLogger(__name__)

Progress = Callable[[int, int, "float | None"], None]
"""progress(step, total_steps, latest_loss)"""


@dataclass
class TrainResult:
    persona: Persona
    steps: int
    seconds: float
    final_loss: float | None
    posts_used: int
    model: Any = field(default=None, repr=False)  # the trained PeftModel, for callers that go on using it

    def to_json(self) -> dict:
        return {"persona": self.persona.slug, "steps": self.steps, "seconds": round(self.seconds, 2),
                "final_loss": self.final_loss, "posts_used": self.posts_used}


def _progress_callback(progress: Progress | None, total: int):
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        # on_log runs after each step's loss is known (logging_steps=1); on_step_end runs before it.
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and progress is not None:
                progress(state.global_step, total, float(logs["loss"]))

    return ProgressCallback()


def _lora_model(model, config: TrainConfig, quantized: bool):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    lora = LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules="all-linear", task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def train_persona(
    posts: list[Post],
    name: str,
    config: TrainConfig | None = None,
    system_prompt: str | None = None,
    registry: PersonaRegistry | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
    clean: CleanConfig | None = None,
    report: CleanReport | None = None,
) -> TrainResult:
    """Clean the posts (unless `report` says they already are), train a LoRA adapter on the train
    split and save the persona, with both splits and the report, atomically in the registry."""
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments

    config = config or TrainConfig()
    clean = clean or CleanConfig()
    registry = registry or PersonaRegistry()
    slug = slugify(name)
    if registry.exists(slug) and not overwrite:
        raise PersonaError(f"A persona named {slug!r} already exists. Choose another name, or overwrite it (--overwrite).")
    if report is None:
        posts, report = clean_posts(posts, clean)
    elif not posts:
        raise InputError("No posts selected for training: tick at least a few posts in the Data tab.")
    train_posts, validation_posts = split_posts(posts, clean)
    report.split = {"train": len(train_posts), "validation": len(validation_posts), "how": clean.validation}
    system_prompt = (system_prompt or "").strip() or default_system_prompt(name.strip())

    ref = resolve_base(config.base_model)
    tokenizer = load_tokenizer(ref)
    examples = build_examples(train_posts, tokenizer, system_prompt, config.max_length, config.seed)
    quantized = use_4bit(config.quantize)
    torch.manual_seed(config.seed)
    model = _lora_model(load_model(ref, config.quantize), config, quantized)
    callback = _progress_callback(progress, config.max_steps)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="studio-train-") as scratch:
        args = TrainingArguments(
            output_dir=scratch, max_steps=config.max_steps, learning_rate=config.learning_rate,
            per_device_train_batch_size=config.batch_size, lr_scheduler_type="linear",
            warmup_steps=min(10, config.max_steps // 10), logging_steps=1, save_strategy="no",
            report_to="none", disable_tqdm=True, seed=config.seed, use_cpu=not cuda_available(),
            bf16=quantized, train_sampling_strategy="group_by_length", label_names=["labels"],
            dataloader_num_workers=0, remove_unused_columns=False,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=examples, callbacks=[callback],
            data_collator=lambda batch: pad_batch(batch, tokenizer.pad_token_id),
        )
        trainer.remove_callback(PrinterCallback)  # progress goes to `progress`, not print()
        if progress is not None:
            progress(0, config.max_steps, None)  # loading is done: show the bar before the first (slowest) step
        try:
            trainer.train()
        except torch.OutOfMemoryError as exc:
            raise ModelError("Out of memory while training: lower batch_size or max_length, or use a smaller base model.") from exc
    seconds = time.perf_counter() - started
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    final_loss = round(sum(losses[-5:]) / len(losses[-5:]), 4) if losses else None
    if final_loss is not None and final_loss != final_loss:  # NaN
        raise InputError("Training diverged (loss is NaN). Lower the learning rate and train again.")

    persona = Persona(
        name=name.strip(), slug=slug, base_model=ref.to_json(), system_prompt=system_prompt,
        data={**report.to_dict(), "examples_trained": len(examples)},
        train=config.to_dict(),
        metrics={
            "final_loss": final_loss, "loss_history": [round(x, 4) for x in losses], "steps": trainer.state.global_step,
            "seconds": round(seconds, 2), "method": "qlora-nf4" if quantized else "lora-fp32",
            "device": "cuda" if cuda_available() else "cpu",
        },
    )
    with registry.create(persona, overwrite=overwrite) as staging:
        model.save_pretrained(staging / "adapter", safe_serialization=True)
        (staging / "data").mkdir()
        for split, rows in (("train", train_posts), ("validation", validation_posts)):
            with (staging / "data" / f"{split}.jsonl").open("w", encoding="utf-8") as f:
                f.writelines(json.dumps(post.to_dict(), ensure_ascii=False) + "\n" for post in rows)
    log.info("Trained %s: %d steps in %.1f s, loss %s", slug, trainer.state.global_step, seconds, final_loss)
    return TrainResult(persona=persona, steps=trainer.state.global_step, seconds=seconds,
                       final_loss=final_loss, posts_used=len(train_posts), model=model)
