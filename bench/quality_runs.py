"""One row of bench/quality.py: train an option set on a fixture's posts through train_persona (its own registry
in a temp folder), evaluate it with evaluate_persona on the model just trained, and read the figures."""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
import time
from pathlib import Path

from studio.events import EVAL, PROBE, START, STEP


@contextlib.contextmanager
def cpu_lock(path: str | None):
    """Hold `path` (flock) while a training and its evaluation run, so other users of the machine wait for
    them, and they for others; none when `path` is None."""
    if not path:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StepClock:
    """Times the optimizer steps of a training (a torch hook, removed afterwards) and the progress events.
    posts/s: rows trained in steps 2..N / their seconds, leaving out the first step (warm-up, as the seed
    recipe's measure does) and any step in which a validation loss or a knowledge probe ran."""

    def __init__(self, bar):
        self.ends, self.pauses, self.bar = [], [], bar

    def __enter__(self):
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self.handle = register_optimizer_step_post_hook(lambda *_: self.ends.append(time.perf_counter()))
        return self

    def __exit__(self, *exc):
        self.handle.remove()

    def progress(self, event: dict) -> None:
        kind = event.get("event")
        if kind in (EVAL, PROBE):
            self.pauses.append(time.perf_counter())
        elif kind == START and event.get("total"):
            self.bar.reset(total=event["total"])
        elif kind == STEP:
            self.bar.update(event["step"] - self.bar.n)
            self.bar.set_postfix(loss=f"{event['loss']:.3f}")

    def posts_per_s(self, rows_per_step: int) -> float | None:
        """Each optimizer step is one hook call (gradient accumulation steps once per optimizer step)."""
        timed = [(a, b) for a, b in zip(self.ends, self.ends[1:]) if not any(a < t <= b for t in self.pauses)]
        seconds = sum(b - a for a, b in timed)
        return round(len(timed) * rows_per_step / seconds, 3) if seconds > 0 else None


def run_row(posts, option, eval_config, lock: str | None, label: str) -> dict:
    """Train `option` (an OptionSet) on `posts` (uncleaned: train_persona cleans them), evaluate, return the row."""
    from tqdm import tqdm

    from studio.chat_format import ensure_chat_template
    from studio.evaluation.run import evaluate_persona
    from studio.models import load_tokenizer, resolve_base
    from studio.persona.registry import PersonaRegistry
    from studio.training.run import train_persona

    config = option.config
    with cpu_lock(lock), tempfile.TemporaryDirectory(prefix="bench-quality-") as scratch:
        registry = PersonaRegistry(Path(scratch))
        bar = tqdm(total=config.max_steps, desc=f"{label}: {option.name}", unit="step", leave=False)
        with StepClock(bar) as clock:
            trained = train_persona(posts, "bench", config, registry=registry, progress=clock.progress)
        bar.close()
        tokenizer = load_tokenizer(resolve_base(config.base_model))
        ensure_chat_template(tokenizer)
        started = time.perf_counter()
        result = evaluate_persona(trained.persona.slug, eval_config, registry, model=trained.model, tokenizer=tokenizer)
        eval_s = time.perf_counter() - started
        row = figures(result)
        row.update(name=option.name, note=option.note, config=config.to_dict(), steps=trained.steps,
                   train_posts=trained.posts_used, train_minutes=round(trained.seconds / 60, 3),
                   eval_minutes=round(eval_s / 60, 3), stopped_early=trained.persona.metrics.get("stopped_early"),
                   posts_per_s=clock.posts_per_s(config.batch_size * config.grad_accum))
    return row


def _pair(block: dict | None, *keys) -> dict | None:
    """{key: block[key]} for the keys present (None when the block is absent)."""
    if not isinstance(block, dict):
        return None
    return {k: block.get(k) for k in keys}


def figures(result: dict) -> dict:
    """The measures of an evaluation result (studio.evaluation.run); a block not (yet) produced is None."""
    style = result.get("style") or {}
    knowledge = result.get("knowledge") or {}
    loss = result.get("loss") or {}
    memorisation = result.get("memorisation") or {}
    facts = result.get("facts")
    extraction = result.get("extraction")
    return {
        "similarity": _pair(style.get("similarity"), "base", "persona", "real"),
        "ngram": _pair(style.get("ngram"), "base", "persona", "real"),
        "discriminator": _pair(style.get("discriminator"), "base", "persona"),
        "knowledge": {"kept": knowledge.get("kept"), "known": knowledge.get("known"),
                      "questions": knowledge.get("questions")} if knowledge else None,
        "copy_rate": memorisation.get("copy_rate"), "base_copy_rate": memorisation.get("base_copy_rate"),
        "loss": {side: (loss.get(side) or {}).get("loss") for side in ("base", "persona")} if loss else None,
        "facts": _pair(facts, "asked", "base_known", "persona_known"),
        "extraction": {k: _pair(v, "base", "persona") for k, v in extraction.items()} if isinstance(extraction, dict) else None,
        "summary": result.get("summary"),
    }


def seed_speed(posts, base: str, steps: int, lock: str | None) -> dict:
    """The seed recipe's posts/s with its real trainer (bench/seed_recipe.py, as bench/train.py measures it), on
    the train split of the cleaned posts, exactly as train_persona splits them."""
    from seed_recipe import seed_posts_per_s

    from studio.clean import CleanConfig, clean_posts, split_posts

    with cpu_lock(lock):
        cleaned, _ = clean_posts(posts, CleanConfig())
        train, _ = split_posts(cleaned, CleanConfig())
        return seed_posts_per_s(train, base, steps)
