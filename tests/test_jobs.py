"""Training jobs in their own process: progress file, SIGKILL + resume (past a checkpoint the kill cut short), cancel, queue; early stopping; methods."""

import json
import math
import os
import shutil
import signal
import time

import pytest

from studio.training import jobs
from studio.clean import CleanConfig, clean_posts
from studio.training.checkpoints import newest_checkpoint
from studio.training.config import TrainConfig
from studio.ingest import Post
from studio.errors import PersonaError
from studio.persona.registry import PersonaRegistry
from studio.training.run import train_persona
from tests.conftest import POSTS

CORPUS = [f"{text} (take {i})" for i in range(3) for text in POSTS]  # 24 distinct posts


@pytest.fixture(autouse=True)
def _no_job_outlives_its_test():
    yield
    for job in jobs.list_jobs():
        if job.status()["status"] in jobs.ACTIVE:
            jobs.cancel(job)


def make_job(tiny_model_dir, name, steps=60, eval_steps=10, patience=0):
    clean = CleanConfig(near_duplicates=False)
    posts, report = clean_posts([Post(t) for t in CORPUS], clean)
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=steps, eval_steps=eval_steps, patience=patience, batch_size=2)
    return jobs.create_job(posts, name, config, clean, report)


def wait_for(predicate, timeout=180, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def last_step(job):
    steps = [e["step"] for e in job.events() if e["event"] == "step"]
    return steps[-1] if steps else 0


def test_sigkill_leaves_registry_unchanged_and_resume_reaches_the_same_final_step(tiny_model_dir):
    job = jobs.launch(make_job(tiny_model_dir, "killed"))
    wait_for(lambda: last_step(job) >= 25, what="step 25")
    os.killpg(job.status()["pid"], signal.SIGKILL)
    wait_for(lambda: job.status()["status"] == "interrupted", what="the kill")
    assert PersonaRegistry().list() == [] and not (PersonaRegistry().root / "killed").exists()
    assert job.resumable() and (job.dir / "log.txt").exists()
    killed_at = last_step(job)
    newest = newest_checkpoint(job.dir / "checkpoints")
    partial = newest.parent / "checkpoint-59"  # a save the kill cut short: no trainer_state.json, optimizer half-written
    shutil.copytree(newest, partial)
    (partial / "trainer_state.json").unlink()
    (partial / "optimizer.pt").write_bytes(b"")

    jobs.launch(job, resume=True)
    wait_for(lambda: job.status()["status"] in ("done", "failed"), timeout=300, what="the resumed run")
    assert job.status()["status"] == "done", (job.dir / "log.txt").read_text()
    events = job.events()
    starts = [i for i, e in enumerate(events) if e["event"] == "start"]
    resumed_steps = [e["step"] for e in events[starts[1]:] if e["event"] == "step"]
    assert resumed_steps[0] > 1 and resumed_steps[0] <= killed_at + 1, "resumed from a checkpoint, not from scratch"
    done = [e for e in events if e["event"] == "done"][0]
    assert done["steps"] == 60
    persona = PersonaRegistry().get("killed")
    assert persona.metrics["steps"] == 60 and not (job.dir / "checkpoints").exists()


def test_cancel_and_queue(tiny_model_dir):
    first = jobs.launch(make_job(tiny_model_dir, "first", steps=400))
    wait_for(lambda: last_step(first) >= 2, what="the first job to train")  # it holds the training lock now
    assert os.getpriority(os.PRIO_PROCESS, first.status()["pid"]) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)  # niced
    second = jobs.launch(make_job(tiny_model_dir, "second", steps=2))
    wait_for(lambda: any(e["event"] == "queued" for e in second.events()), what="the second job to queue")
    assert second.status()["status"] == "queued" and not [e for e in second.events() if e["event"] == "start"]
    jobs.cancel(first)
    assert first.status()["status"] == "cancelled" and first.events()[-1]["event"] == "cancelled"
    wait_for(lambda: second.status()["status"] == "done", timeout=180, what="the queued job to run after the cancel")
    assert [p.slug for p in PersonaRegistry().list()] == ["second"], "the cancelled run wrote nothing"
    with pytest.raises(Exception, match="is not training"):
        jobs.cancel(first)


def test_early_stopping_on_an_overfitting_curve(tiny_model_dir):
    """Train posts all alike, validation posts (the newest) unlike them: validation loss turns up, training stops."""
    train = [Post(f"coffee code coffee code number {i}", created_at=f"2020-01-{i % 28 + 1:02d}") for i in range(36)]
    held = [Post(f"今日は雨でした、傘を忘れてしまった {i}", created_at=f"2024-01-{i + 1:02d}") for i in range(4)]
    clean = CleanConfig(validation="newest", near_duplicates=False, validation_fraction=0.1)
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=200, learning_rate=2e-2, eval_steps=2, patience=2,
                         batch_size=4, warmup_ratio=0)
    events = []
    result = train_persona(train + held, "overfit", config, clean=clean, progress=events.append)
    metrics = result.persona.metrics
    evals = [loss for _, loss in metrics["eval_history"]]
    assert metrics["stopped_early"] and result.steps < 200
    assert min(evals) == metrics["best_eval_loss"] and evals[-1] > metrics["best_eval_loss"]
    assert metrics["best_step"] < result.steps
    assert json.loads((result.persona.path / "data" / "validation.jsonl").read_text().splitlines()[0])["text"].startswith("今日は雨")


@pytest.mark.parametrize("settings", [{"method": "dora"}, {"lora_plus_ratio": 16}, {"epochs": 1, "grad_accum": 2},
                                      {"target_modules": "q_proj,v_proj", "scheduler": "cosine"}])
def test_methods_and_schedules_train(tiny_model_dir, settings):
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=3, eval_steps=0, **settings)
    result = train_persona([Post(t) for t in CORPUS], "variant", config)
    adapter = json.loads((result.persona.adapter_dir / "adapter_config.json").read_text())
    assert adapter["use_dora"] is (settings.get("method") == "dora")
    if "target_modules" in settings:
        assert sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
    batches = math.ceil(result.posts_used / config.batch_size)  # one epoch: every batch once, 2 batches per step
    assert result.steps == (math.ceil(batches / 2) if "epochs" in settings else 3)


def test_a_bad_niceness_is_a_clear_error_before_the_job_starts(tiny_model_dir, monkeypatch):
    job = make_job(tiny_model_dir, "niced", steps=2)
    monkeypatch.setenv("STUDIO_TRAIN_NICE", "low")
    with pytest.raises(PersonaError, match="STUDIO_TRAIN_NICE must be a whole number from 0 to 19, got 'low'"):
        jobs.launch(job)
    assert job.status()["pid"] is None  # no process started
