"""Training across processes: 2 gloo CPU processes on the tiny model give the loss curve of 1 process at the
same global batch (batch 4 = 2 rows x 2 processes), a loadable adapter that changed while the base did not,
and a killed 2-process run resumes from its checkpoint."""

import os
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from studio.clean import CleanConfig, clean_posts
from studio.errors import ConfigError
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training import jobs
from studio.training.config import TrainConfig
from tests.conftest import POSTS

TOLERANCE = 0.01  # per-step loss, absolute (0.1 % of ~10.8): measured max 0.004 (first step 0.0004: not bit-exact; cause not found yet)


def make_job(tiny_model_dir, name, processes, **extra):
    settings = dict(base_model=str(tiny_model_dir), max_steps=6, batch_size=4, learning_rate=5e-3, eval_steps=0,
                    probe_steps=0, replay_share=0, evaluate=False, seed=0, processes=processes)
    config = TrainConfig(**{**settings, **extra})
    clean = CleanConfig()
    posts, report = clean_posts([Post(text) for text in POSTS * 3], clean)
    return jobs.create_job(posts, name, config, clean, report)


def test_two_processes_give_the_one_process_loss_curve(tiny_model_dir):
    losses = {}
    for processes in (1, 2):
        jobs.run_job(make_job(tiny_model_dir, f"p{processes}", processes))
        losses[processes] = PersonaRegistry().get(f"p{processes}").metrics["loss_history"]
    assert len(losses[1]) == len(losses[2]) == 6
    assert max(abs(a - b) for a, b in zip(losses[1], losses[2])) <= TOLERANCE, losses
    assert losses[2][-1] < losses[2][0]
    persona = PersonaRegistry().get("p2")
    weights = load_file(str(persona.adapter_dir / "adapter_model.safetensors"))
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in weights.items()), "the adapter trained (B starts at 0)"
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    before = {k: v.clone() for k, v in base.state_dict().items()}
    model = PeftModel.from_pretrained(base, str(persona.adapter_dir))
    ids = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        tuned = model(input_ids=ids).logits
        with model.disable_adapter():
            bare = model(input_ids=ids).logits
    assert not torch.allclose(tuned, bare)
    after = model.get_base_model().state_dict()
    assert all(torch.equal(before[k.replace(".base_layer", "")], after[k]) for k in after if "lora_" not in k)
    assert [e["event"] for e in jobs.get_job("p2").events()].count("start") == 1, "progress written once (rank 0)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.is_file() and state.read_text().split(")")[-1].split()[0] == "Z")  # a zombie is dead


def test_a_killed_two_process_run_resumes(tiny_model_dir):
    job = make_job(tiny_model_dir, "resumed", 2, eval_steps=2, max_steps=40)  # long enough to be cancelled midway
    jobs.launch(job)
    deadline = time.time() + 300
    while not list((job.dir / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        assert time.time() < deadline and job.status()["status"] in jobs.ACTIVE, (job.dir / "log.txt").read_text()
        time.sleep(0.2)
    ranks = job.rank_pids()
    assert len(ranks) == 2
    jobs.cancel(job)
    deadline = time.time() + 60
    while any(_alive(pid) for pid in ranks):  # the ranks have sessions of their own: cancel must reach them too
        assert time.time() < deadline, f"ranks still running after cancel: {[p for p in ranks if _alive(p)]}"
        time.sleep(0.2)
    assert job.resumable() and "resumed" not in [p.slug for p in PersonaRegistry().list()]
    jobs.run_job(job, resume=True)
    persona = PersonaRegistry().get("resumed")
    assert persona.metrics["steps"] == 40 and job.status()["status"] == "done"


def test_the_batch_must_split_over_the_processes():
    with pytest.raises(ConfigError, match="multiple of 3"):
        TrainConfig(batch_size=4, processes=3)
