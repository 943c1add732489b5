"""Train a persona: LoRA on the base model (4-bit QLoRA on CUDA, fp32 LoRA on CPU), saved to the registry.

Progress goes to a callback as events (dicts): `start`, `step` (loss, learning rate, tokens/s,
ETA), `eval` (validation loss) and `warning`. With a checkpoint folder, checkpoints are written
every `eval_steps` and a cancelled or killed run resumes from the last one.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from studio.persona.card import write_card
from studio.clean import CleanConfig, CleanReport, clean_posts, split_posts
from studio.training.config import TrainConfig
from studio.chat_format import build_examples, default_system_prompt, ensure_chat_template, pad_batch
from studio.errors import InputError, ModelError
from studio.files import write_jsonl
from studio.ingest import Post
from studio.models import cuda_available, load_model, load_tokenizer, resolve_base, use_4bit
from studio.persona.registry import Persona, PersonaRegistry
from studio.training.step import post_token_trainer

log = logging.getLogger(__name__)

Progress = Callable[[dict], None]
MIN_POSTS = 5
FEW_POSTS = 200
GAP_WARNING = 0.5  # validation loss this far above the training loss: the persona is learning posts by heart


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
                "final_loss": self.final_loss, "posts_used": self.posts_used,
                "best_eval_loss": self.persona.metrics.get("best_eval_loss")}


def _events_callback(emit: Progress, total: int, started: float):
    from transformers import TrainerCallback

    class Events(TrainerCallback):
        last_loss: float | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            elapsed = time.perf_counter() - started
            if "loss" in logs:
                self.last_loss = float(logs["loss"])
                done = max(state.global_step, 1)
                emit({"event": "step", "step": state.global_step, "total": state.max_steps or total, "loss": self.last_loss,
                      "lr": logs.get("learning_rate"), "epoch": round(state.epoch or 0, 3),
                      "tokens_per_s": round(state.num_input_tokens_seen / elapsed, 1) if elapsed else None,
                      "elapsed_s": round(elapsed, 1), "eta_s": round(elapsed / done * ((state.max_steps or total) - done), 1)})
            if "eval_loss" in logs:
                eval_loss = float(logs["eval_loss"])
                emit({"event": "eval", "step": state.global_step, "eval_loss": eval_loss})
                if self.last_loss is not None and eval_loss - self.last_loss > GAP_WARNING:
                    emit({"event": "warning", "message": f"Validation loss ({eval_loss:.2f}) is well above the training loss "
                          f"({self.last_loss:.2f}): the persona is starting to learn posts by heart. Fewer steps or more posts help."})

    return Events()


def _lora_model(model, config: TrainConfig, quantized: bool):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout, target_modules=config.targets(),
        use_dora=config.method == "dora", task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise InputError(f"target_modules {config.target_modules!r} does not fit this base model ({exc}). Use 'all-linear'.") from exc


def _optimizer(model, config: TrainConfig):
    """LoRA+ (the B matrices learn `lora_plus_ratio` times faster) when asked; else the Trainer's AdamW."""
    if not config.lora_plus_ratio:
        return None
    import torch
    from peft.optimizers import create_loraplus_optimizer

    return create_loraplus_optimizer(model, torch.optim.AdamW, lr=config.learning_rate,
                                     loraplus_lr_ratio=config.lora_plus_ratio, weight_decay=config.weight_decay)


def _training_args(config: TrainConfig, output_dir: Path, evaluate: bool, quantized: bool):
    from transformers import TrainingArguments

    save_steps = config.eval_steps or 20
    return TrainingArguments(
        output_dir=str(output_dir), max_steps=-1 if config.epochs else config.max_steps, num_train_epochs=config.epochs or 1,
        learning_rate=config.learning_rate, lr_scheduler_type="constant_with_warmup" if config.scheduler == "constant" else config.scheduler,
        warmup_steps=config.warmup_ratio, weight_decay=config.weight_decay,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size * 2,
        gradient_accumulation_steps=config.grad_accum, logging_steps=1, report_to="none", disable_tqdm=True,
        seed=config.seed, use_cpu=not cuda_available(), bf16=quantized, train_sampling_strategy="group_by_length",
        label_names=["labels"], prediction_loss_only=True, dataloader_num_workers=0, remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        eval_strategy="steps" if evaluate else "no", eval_steps=config.eval_steps or None,
        save_strategy="steps", save_steps=save_steps, save_total_limit=2, save_only_model=False,
        load_best_model_at_end=evaluate, metric_for_best_model="eval_loss", greater_is_better=False,
    )


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
    checkpoint_dir: Path | None = None,
    resume: bool = False,
) -> TrainResult:
    """Clean the posts (unless `report` says they already are), train a LoRA adapter on the train
    split, evaluate on the validation split, and save the persona atomically in the registry."""
    import torch
    from transformers import EarlyStoppingCallback, PrinterCallback

    config = config or TrainConfig()
    clean = clean or CleanConfig()
    registry = registry or PersonaRegistry()
    emit = progress or (lambda event: None)
    slug = registry.check_available(name, overwrite)  # before any work: the name may have been taken meanwhile
    if report is None:
        posts, report = clean_posts(posts, clean)
    if len(posts) < MIN_POSTS:
        raise InputError(f"Only {len(posts)} posts to train on; at least {MIN_POSTS} are needed (a few hundred for a good persona).")
    if len(posts) < FEW_POSTS:
        emit({"event": "warning", "message": f"Only {len(posts)} posts: expect a weak persona that repeats them. A few hundred or more work better."})
    train_posts, validation_posts = split_posts(posts, clean)
    report.split = {"train": len(train_posts), "validation": len(validation_posts), "how": clean.validation}
    system_prompt = (system_prompt or "").strip() or default_system_prompt(name.strip())

    ref = resolve_base(config.base_model)
    quantized = use_4bit(config.method)
    tokenizer = load_tokenizer(ref)
    if ensure_chat_template(tokenizer):
        emit({"event": "warning", "message": "The base model has no chat template: a plain 'Role: text' template is used."})
    parents = {post.id: post.text for post in posts if post.id}  # replies within the person's own threads
    examples = build_examples(train_posts, tokenizer, system_prompt, config.max_length, config.seed, parents)
    scored = validation_posts[:config.eval_posts] if config.eval_posts else validation_posts  # the split is already shuffled
    eval_examples = build_examples(scored, tokenizer, system_prompt, config.max_length, config.seed + 1, parents) if scored else []
    evaluate = bool(eval_examples) and config.eval_steps > 0
    torch.manual_seed(config.seed)
    try:
        model = _lora_model(load_model(ref, four_bit=quantized), config, quantized)
    except torch.OutOfMemoryError as exc:
        raise ModelError("Out of memory loading the base model: choose a smaller base model, or QLoRA on a GPU.") from exc
    started = time.perf_counter()
    callbacks = [_events_callback(emit, config.max_steps, started)]
    if evaluate and config.patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    if config.probe_steps:  # general knowledge watched during training: {"event": "probe", "step", "accuracy"}
        from studio.evaluation.probe import probe_callback

        callbacks.append(probe_callback(tokenizer, emit, config.probe_steps, config.probe_stop_drop))
    with tempfile.TemporaryDirectory(prefix="studio-train-") as scratch:
        output_dir = Path(checkpoint_dir) if checkpoint_dir else Path(scratch)
        trainer = post_token_trainer(config.max_batch_tokens)(
            model=model, args=_training_args(config, output_dir, evaluate, quantized), train_dataset=examples,
            eval_dataset=eval_examples or None, callbacks=callbacks, optimizers=(_optimizer(model, config), None),
            data_collator=lambda batch: pad_batch(batch, tokenizer.pad_token_id),
        )
        trainer.remove_callback(PrinterCallback)  # progress goes to `progress`, not print()
        emit({"event": "start", "total": trainer.args.max_steps if trainer.args.max_steps > 0 else None,
              "train_posts": len(train_posts), "validation_posts": len(validation_posts),
              "method": "qlora-nf4" if quantized else ("dora" if config.method == "dora" else "lora-fp32"),
              "device": "cuda" if cuda_available() else "cpu"})
        resume_from = bool(resume and checkpoint_dir and list(Path(checkpoint_dir).glob("checkpoint-*")))
        try:
            trainer.train(resume_from_checkpoint=True if resume_from else None)
        except torch.OutOfMemoryError as exc:
            raise ModelError("Out of memory while training: lower batch_size or max_length, or use a smaller base model.") from exc
    seconds = time.perf_counter() - started
    history = trainer.state.log_history
    losses = [entry["loss"] for entry in history if "loss" in entry]
    evals = [(entry["step"], entry["eval_loss"]) for entry in history if "eval_loss" in entry]
    final_loss = round(sum(losses[-5:]) / len(losses[-5:]), 4) if losses else None
    if final_loss is not None and final_loss != final_loss:  # NaN
        raise InputError("Training diverged (loss is NaN). Lower the learning rate and train again.")
    best = min(evals, key=lambda e: e[1]) if evals else None

    persona = Persona(
        name=name.strip(), slug=slug, base_model=ref.to_json(), system_prompt=system_prompt,
        data={**report.to_dict(), "examples_trained": len(examples)},
        train=config.to_dict(),
        metrics={
            "final_loss": final_loss, "loss_history": [round(x, 4) for x in losses],
            "eval_history": [[step, round(loss, 4)] for step, loss in evals],
            "best_eval_loss": round(best[1], 4) if best else None, "best_step": best[0] if best else None,
            "stopped_early": bool(evals) and trainer.state.global_step < trainer.state.max_steps,
            "steps": trainer.state.global_step, "seconds": round(seconds, 2),
            "method": "qlora-nf4" if quantized else ("dora" if config.method == "dora" else "lora-fp32"),
            "device": "cuda" if cuda_available() else "cpu",
        },
    )
    with registry.create(persona, overwrite=overwrite) as staging:
        model.save_pretrained(staging / "adapter", safe_serialization=True)
        (staging / "data").mkdir()
        for split, rows in (("train", train_posts), ("validation", validation_posts)):
            write_jsonl(staging / "data" / f"{split}.jsonl", (post.to_dict() for post in rows))
    write_card(persona, registry)  # README.md: the model card (studio/card.py)
    log.info("Trained %s: %d steps in %.1f s, loss %s", slug, trainer.state.global_step, seconds, final_loss)
    if config.evaluate:
        persona = _evaluate_after_training(persona, registry, model, tokenizer, config, emit)
    return TrainResult(persona=persona, steps=trainer.state.global_step, seconds=seconds,
                       final_loss=final_loss, posts_used=len(train_posts), model=model)


def _evaluate_after_training(persona: Persona, registry: PersonaRegistry, model, tokenizer, config: TrainConfig,
                             emit: Progress) -> Persona:
    """Evaluate the new persona on the model just trained (nothing is loaded again). The persona is
    already saved: a failed evaluation is a warning, and `python -m studio eval NAME` can redo it."""
    from studio.evaluation.config import EvalConfig
    from studio.errors import StudioError
    from studio.evaluation.run import evaluate_persona

    try:
        evaluate_persona(persona.slug, EvalConfig(seed=config.seed), registry, progress=emit, model=model, tokenizer=tokenizer)
        return registry.get(persona.slug)
    except StudioError as exc:
        emit({"event": "warning", "message": f"Evaluation failed: {exc}"})
    except Exception as exc:  # the saved persona stays; the traceback goes to the log
        log.exception("evaluation of %s failed", persona.slug)
        emit({"event": "warning", "message": f"Evaluation failed ({exc!r}); run: python -m studio eval {persona.slug}"})
    return persona
