"""The Train tab's plots: training loss, and beside it the held-out loss and the knowledge probe, from a job's
events (planted, then from a real tiny training run)."""

from studio.clean import CleanConfig, clean_posts
from studio.events import EVAL, PROBE, of_kind
from studio.ingest import Post
from studio.training import jobs
from studio.training.config import TrainConfig
from studio.ui.train_tab import _curve, heldout_frame, knowledge_frame, quality_line, render
from tests.conftest import POSTS


def test_frames_of_the_losses_and_the_probe():
    steps = [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.25}]
    evals = [{"step": 2, "eval_loss": 2.4}]
    probes = [{"step": 0, "accuracy": 0.75}, {"step": 2, "accuracy": 0.5}]
    assert _curve(steps).to_dict("records") == [
        {"step": 1, "loss": 2.5, "series": "training"}, {"step": 2, "loss": 2.25, "series": "training"}]
    assert heldout_frame(evals).to_dict("records") == [{"step": 2, "loss": 2.4, "series": "held-out loss"}]
    assert knowledge_frame(probes).to_dict("records") == [
        {"step": 0, "accuracy": 0.75, "series": "knowledge probe"}, {"step": 2, "accuracy": 0.5, "series": "knowledge probe"}]
    assert quality_line(probes) == ", knowledge probe 50% (before training 75%)"
    assert quality_line([]) == "" and heldout_frame([]).empty and knowledge_frame([]).empty


def test_a_tiny_run_with_the_probe_fills_the_knowledge_and_heldout_plots(tiny_model_dir):
    corpus = [f"{text} (take {i})" for i in range(3) for text in POSTS]
    clean = CleanConfig(near_duplicates=False)
    posts, report = clean_posts([Post(t) for t in corpus], clean)
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=4, eval_steps=2, probe_steps=2, batch_size=2)
    job = jobs.create_job(posts, "Probed", config, clean, report)
    jobs.run_job(job)  # in this process: the events land in the job's progress file as in the app
    events = job.events()
    assert [e["step"] for e in of_kind(events, PROBE)] == [0, 2, 4]
    assert [e["step"] for e in of_kind(events, EVAL)] == [2, 4]
    line, _, curve, heldout, knowledge, _, finished = render(job.slug)
    assert finished and "knowledge probe" in line
    assert len(curve) == 4
    assert heldout.visible is True and [r["step"] for r in points(heldout)] == [2, 4]
    assert all(r["loss"] > 0 for r in points(heldout))
    assert knowledge.visible is True and [r["step"] for r in points(knowledge)] == [0, 2, 4]
    assert all(0 <= r["accuracy"] <= 1 for r in points(knowledge))


def points(plot) -> list[dict]:
    """The rows a native plot update sends to the browser."""
    return [dict(zip(plot.value["columns"], row)) for row in plot.value["data"]]
