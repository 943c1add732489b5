"""Train a persona: LoRA on the base model (4-bit QLoRA on CUDA, fp32 LoRA on CPU), saved to the registry.

`train_persona` runs the steps in order: the posts (`_posts_to_train`), the examples (`_examples`), the
model with fresh adapters (`_load_lora_model`, on the top `lora_layers` layers), the replay rows (`_replay`:
the base model's cached answers, studio.training.replay), the Trainer (`_trainer`, `_callbacks`) and its run
(`_fit`), the figures (`_metrics`), the saved persona (`_save`), and the evaluation after training.

Progress goes to a callback as events (studio.events): `start`, `step` (loss, learning rate, tokens/s,
ETA), `eval` (validation loss), `warning`, and `probe` and `evaluate` from studio.evaluation. With a
checkpoint folder, checkpoints are written every `eval_steps` and a cancelled or killed run resumes
from the last one.
"""

from __future__ import annotations

import logging
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.persona.card import write_card
from studio.persona.consent import make_consent
from studio.clean import CleanConfig, CleanReport, clean_posts, split_posts
from studio.clean.sources import split_counts
from studio.training.checkpoints import drop_partial_checkpoints, newest_checkpoint
from studio.training.config import TrainConfig
from studio.training.prompt import default_prompt
from studio.training.replay import ReplayCollator, base_answers, replay_examples, replay_rows
from studio.chat_format import build_examples, ensure_chat_template, pad_batch, system_note
from studio.errors import InputError, ModelError
from studio.events import EVAL, START, STEP, WARNING, EvalEvent, Progress, StartEvent, StepEvent, WarningEvent, ignore
from studio.files import write_jsonl
from studio.ingest import Post
from studio.models import cuda_available, load_model, load_tokenizer, resolve_base, use_4bit
from studio.persona.registry import Persona, PersonaRegistry
from studio.training.ranks import is_main
from studio.training.step import post_token_trainer
from studio.training.watch import knowledge_watch

log = logging.getLogger(__name__)

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
        """The figures of a job's done event (studio.events.DoneEvent)."""
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
                emit(StepEvent(event=STEP, step=state.global_step, total=state.max_steps or total, loss=self.last_loss,
                               lr=logs.get("learning_rate"), epoch=round(state.epoch or 0, 3),
                               tokens_per_s=round(state.num_input_tokens_seen / elapsed, 1) if elapsed else None,
                               elapsed_s=round(elapsed, 1), eta_s=round(elapsed / done * ((state.max_steps or total) - done), 1)))
            if "eval_loss" in logs:
                eval_loss = float(logs["eval_loss"])
                emit(EvalEvent(event=EVAL, step=state.global_step, eval_loss=eval_loss))
                if self.last_loss is not None and eval_loss - self.last_loss > GAP_WARNING:
                    emit(WarningEvent(event=WARNING, message=f"Validation loss ({eval_loss:.2f}) is well above the training loss "
                         f"({self.last_loss:.2f}): the persona is starting to learn posts by heart. Fewer steps or more posts help."))

    return Events()


def _lora_model(model, config: TrainConfig, quantized: bool):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        use_dora=config.method == "dora", use_rslora=config.rslora, task_type="CAUSAL_LM", **_layers(model, config),
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise InputError(f"target_modules {config.target_modules!r} does not fit this base model ({exc}). Use 'all-linear'.") from exc


def _layers(model, config: TrainConfig) -> dict:
    """peft's target_modules, and for LoRA on the top `lora_layers` decoder layers only, the layers (peft takes
    those with a list of module names only: 'all-linear' becomes the names of the decoder layers' linear ones)."""
    import torch

    total = getattr(model.config, "num_hidden_layers", None)
    if not config.lora_layers or not total or config.lora_layers >= total:
        return {"target_modules": config.targets()}
    names = config.targets()
    if names == "all-linear":
        names = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                        if ".layers." in name and isinstance(module, torch.nn.Linear)})
    return {"target_modules": names, "layers_to_transform": list(range(total - config.lora_layers, total)),
            "layers_pattern": "layers"}


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
        per_device_train_batch_size=config.batch_size // config.processes, per_device_eval_batch_size=config.batch_size * 2,
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
    config, clean, registry = config or TrainConfig(), clean or CleanConfig(), registry or PersonaRegistry()
    emit = progress or ignore
    slug = registry.check_available(name, overwrite)  # before any work: the name may have been taken meanwhile
    posts, report = _posts_to_train(posts, clean, report, emit)
    train_posts, validation_posts = split_posts(posts, clean)
    report.split = {"train": len(train_posts), "validation": len(validation_posts), "how": clean.validation,
                    "sources": split_counts(train_posts, validation_posts)}
    system_prompt = (system_prompt or "").strip() or default_prompt(
        name.strip(), [post.text for post in train_posts] if config.style_line else None)

    ref, quantized = resolve_base(config.base_model), use_4bit(config.method)
    tokenizer = load_tokenizer(ref)
    if ensure_chat_template(tokenizer):
        emit(WarningEvent(event=WARNING, message="The base model has no chat template: a plain 'Role: text' template is used."))
    if system_note(tokenizer):  # its template has no system role (Gemma's): the prompt opens the first message
        emit(WarningEvent(event=WARNING, message=system_note(tokenizer)))
    examples, eval_examples = _examples(posts, train_posts, validation_posts, tokenizer, system_prompt, config)
    evaluate = bool(eval_examples) and config.eval_steps > 0
    model = _load_lora_model(ref, config, quantized)
    replay = _replay(model, tokenizer, ref, config)
    started = time.perf_counter()
    with _output_dir(checkpoint_dir) as output_dir:
        trainer = _trainer(model, tokenizer, config, examples, eval_examples, output_dir, evaluate, quantized,
                           _callbacks(tokenizer, config, evaluate, emit, started), replay)
        emit(StartEvent(event=START, total=trainer.args.max_steps if trainer.args.max_steps > 0 else None,
                        train_posts=len(train_posts), validation_posts=len(validation_posts),
                        method=_method(config, quantized), device=_device()))
        _fit(trainer, checkpoint_dir if resume else None)
    seconds = time.perf_counter() - started
    metrics = _metrics(trainer.state, seconds, _method(config, quantized))
    persona = Persona(name=name.strip(), slug=slug, base_model=ref.to_json(), system_prompt=system_prompt,
                      data={**report.to_dict(), "examples_trained": len(examples)}, train=config.to_dict(), metrics=metrics)
    if config.consent.strip():
        persona.extra["consent"] = make_consent(config.consent)
    if not is_main():  # another rank of a run on several processes (studio.training.distributed): rank 0 saves
        return TrainResult(persona=persona, steps=trainer.state.global_step, seconds=seconds,
                           final_loss=metrics["final_loss"], posts_used=len(train_posts), model=model)
    _save(persona, registry, model, {"train": train_posts, "validation": validation_posts}, overwrite)
    log.info("Trained %s: %d steps in %.1f s, loss %s", slug, trainer.state.global_step, seconds, metrics["final_loss"])
    if config.evaluate:
        persona = _evaluate_after_training(persona, registry, model, tokenizer, config, emit)
    return TrainResult(persona=persona, steps=trainer.state.global_step, seconds=seconds,
                       final_loss=metrics["final_loss"], posts_used=len(train_posts), model=model)


def _posts_to_train(posts: list[Post], clean: CleanConfig, report: CleanReport | None,
                    emit: Progress) -> tuple[list[Post], CleanReport]:
    """The cleaned posts (cleaned here unless `report` says they already are), refused when too few."""
    if report is None:
        posts, report = clean_posts(posts, clean)
    if len(posts) < MIN_POSTS:
        raise InputError(f"Only {len(posts)} posts to train on; at least {MIN_POSTS} are needed (a few hundred for a good persona).")
    if len(posts) < FEW_POSTS:
        emit(WarningEvent(event=WARNING, message=f"Only {len(posts)} posts: expect a weak persona that repeats them. "
                                                 "A few hundred or more work better."))
    return posts, report


def _examples(posts: list[Post], train_posts: list[Post], validation_posts: list[Post], tokenizer, system_prompt: str,
              config: TrainConfig) -> tuple[list, list]:
    """Training examples of the train split, and validation examples of (at most `eval_posts` of) the validation split."""
    parents = {post.id: post.text for post in posts if post.id}  # replies within the person's own threads
    examples = build_examples(train_posts, tokenizer, system_prompt, config.max_length, config.seed, parents)
    scored = validation_posts[:config.eval_posts] if config.eval_posts else validation_posts  # the split is already shuffled
    eval_examples = build_examples(scored, tokenizer, system_prompt, config.max_length, config.seed + 1, parents) if scored else []
    return examples, eval_examples


def _replay(model, tokenizer, ref, config: TrainConfig) -> list:
    """The replay examples (the base model's cached answers), none when replay_share is 0."""
    if not config.replay_share:
        return []
    key = ref.to_json() if ref.revision else {**ref.to_json(), "path": str(ref.path)}  # a revision names the weights
    answers = base_answers(model, tokenizer, key)
    return replay_examples(answers, tokenizer, config.max_length, chat=config.replay_chat)


def _method(config: TrainConfig, quantized: bool) -> str:
    return "qlora-nf4" if quantized else ("dora" if config.method == "dora" else "lora-fp32")


def _device() -> str:
    return "cuda" if cuda_available() else "cpu"


def _load_lora_model(ref, config: TrainConfig, quantized: bool):
    """The base model with fresh LoRA adapters, seeded with `config.seed`."""
    import torch

    torch.manual_seed(config.seed)
    try:
        return _lora_model(load_model(ref, four_bit=quantized), config, quantized)
    except torch.OutOfMemoryError as exc:
        raise ModelError("Out of memory loading the base model: choose a smaller base model, or QLoRA on a GPU.") from exc


def _callbacks(tokenizer, config: TrainConfig, evaluate: bool, emit: Progress, started: float) -> list:
    """Progress events, early stopping (with validation), and the quick knowledge probe (with probe_steps)."""
    from transformers import EarlyStoppingCallback

    callbacks = [_events_callback(emit, config.max_steps, started)]
    if evaluate and config.patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    if config.probe_steps:  # general knowledge watched during training: probe events, early stop (studio.training.watch)
        callbacks.append(knowledge_watch(tokenizer, emit, config.probe_steps, config.probe_stop_drop))
    return callbacks


@contextmanager
def _output_dir(checkpoint_dir: Path | None):
    """Where the Trainer writes checkpoints: the job's folder, else a scratch folder removed afterwards."""
    if checkpoint_dir:
        yield Path(checkpoint_dir)
        return
    with tempfile.TemporaryDirectory(prefix="studio-train-") as scratch:
        yield Path(scratch)


def _trainer(model, tokenizer, config: TrainConfig, examples: list, eval_examples: list, output_dir: Path,
             evaluate: bool, quantized: bool, callbacks: list, replay: list | None = None):
    """The Trainer of post tokens (studio.training.step) on the examples, writing to `output_dir`; with `replay`
    examples, `replay_rows` of them join each batch (studio.training.replay)."""
    from transformers import PrinterCallback

    def pad(batch):
        return pad_batch(batch, tokenizer.pad_token_id)

    rows = replay_rows(config.batch_size, config.replay_share) if replay else 0
    trainer = post_token_trainer(config.max_batch_tokens, config.replay_share if rows else 0.0, config.kl_weight if rows else 0.0,
                                 config.replay_every)(
        model=model, args=_training_args(config, output_dir, evaluate, quantized), train_dataset=examples,
        eval_dataset=eval_examples or None, callbacks=callbacks, optimizers=(_optimizer(model, config), None),
        data_collator=ReplayCollator(pad, replay, rows, config.seed) if rows else pad,
    )
    trainer.remove_callback(PrinterCallback)  # progress goes to `progress`, not print()
    return trainer


def _fit(trainer, resume_from: Path | None) -> None:
    """Train, from the newest complete checkpoint in `resume_from` when there is one."""
    import torch

    if resume_from and is_main():
        drop_partial_checkpoints(resume_from)  # a run killed while saving
    start = newest_checkpoint(resume_from) if resume_from else None
    try:
        trainer.train(resume_from_checkpoint=str(start) if start else None)
    except torch.OutOfMemoryError as exc:
        raise ModelError("Out of memory while training: lower batch_size or max_length, or use a smaller base model.") from exc


def _metrics(state, seconds: float, method: str) -> dict:
    """The persona's training figures from the Trainer's log; a NaN loss is refused."""
    history = state.log_history
    losses = [entry["loss"] for entry in history if "loss" in entry]
    evals = [(entry["step"], entry["eval_loss"]) for entry in history if "eval_loss" in entry]
    final_loss = round(sum(losses[-5:]) / len(losses[-5:]), 4) if losses else None
    if final_loss is not None and final_loss != final_loss:  # NaN
        raise InputError("Training diverged (loss is NaN). Lower the learning rate and train again.")
    best = min(evals, key=lambda e: e[1]) if evals else None
    return {
        "final_loss": final_loss, "loss_history": [round(x, 4) for x in losses],
        "eval_history": [[step, round(loss, 4)] for step, loss in evals],
        "best_eval_loss": round(best[1], 4) if best else None, "best_step": best[0] if best else None,
        "stopped_early": bool(evals) and state.global_step < state.max_steps,
        "steps": state.global_step, "seconds": round(seconds, 2), "method": method, "device": _device(),
    }


def _save(persona: Persona, registry: PersonaRegistry, model, splits: dict[str, list[Post]], overwrite: bool) -> None:
    """The adapter, the posts of each split and the manifest, in one atomic step; then the model card."""
    with registry.create(persona, overwrite=overwrite) as staging:
        model.save_pretrained(staging / "adapter", safe_serialization=True)
        (staging / "data").mkdir()
        for split, rows in splits.items():
            write_jsonl(staging / "data" / f"{split}.jsonl", (post.to_dict() for post in rows))
    write_card(persona, registry)  # README.md: the model card (studio/persona/card.py)


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
        emit(WarningEvent(event=WARNING, message=f"Evaluation failed: {exc}"))
    except Exception as exc:  # the saved persona stays; the traceback goes to the log
        log.exception("evaluation of %s failed", persona.slug)
        emit(WarningEvent(event=WARNING, message=f"Evaluation failed ({exc!r}); run: python -m studio eval {persona.slug}"))
    return persona
