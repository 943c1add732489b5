"""Progress events: every event a real tiny run writes (and echoes) has the shape studio.events declares,
and lines written before the declaration still fit it."""

import json
import subprocess
import types
import typing

import pytest

from studio import events
from studio.clean import CleanConfig, clean_posts
from studio.ingest import Post
from studio.training import jobs
from studio.training.config import TrainConfig
from tests.test_evaluate import POSTS

# One line of each kind from a progress.jsonl written before studio/events.py existed.
OLD_LINES = """\
{"event": "queued", "time": 1796156962.21}
{"event": "warning", "message": "Only 35 posts: expect a weak persona that repeats them. A few hundred or more work better.", "time": 1796156963.02}
{"event": "start", "total": 4, "train_posts": 31, "validation_posts": 4, "method": "lora-fp32", "device": "cpu", "time": 1796156963.62}
{"event": "probe", "step": 0, "accuracy": 0.0, "questions": 8, "time": 1796156973.79}
{"event": "step", "step": 1, "total": 4, "loss": 10.802005767822266, "lr": 0.0, "epoch": 0.125, "tokens_per_s": 16.4, "elapsed_s": 12.5, "eta_s": 37.6, "time": 1796156975.69}
{"event": "eval", "step": 2, "eval_loss": 10.819568634033203, "time": 1796156988.12}
{"event": "evaluate", "stage": "loss", "done": 0, "total": 5, "time": 1796157002.56}
{"event": "evaluate", "stage": "done", "done": 5, "total": 5, "summary": "sounds like them: 0.21 (base 0.23, their posts 0.38) / copies them: 0% (0 of 16) / kept general knowledge: 0 of 0", "time": 1796157034.8}
{"event": "done", "persona": "shapes", "steps": 4, "seconds": 39.39, "final_loss": 10.8056, "posts_used": 31, "best_eval_loss": 10.8122, "time": 1796157034.8}
{"event": "error", "message": "Only 3 posts to train on; at least 5 are needed (a few hundred for a good persona).", "time": 1796157034.8}
{"event": "cancelled", "time": 1796157040.1}
"""


def fits(value, hint) -> bool:
    if typing.get_origin(hint) is typing.Literal:
        return value in typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(fits(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    return isinstance(value, (int, float) if hint is float else hint)


def problems(event: dict) -> list[str]:
    """What keeps `event` from its declared shape: an unknown kind, keys missing or not declared, values of the wrong type."""
    shape = events.SHAPES.get(event.get("event"))
    if shape is None:
        return [f"unknown kind {event.get('event')!r}"]
    hints = typing.get_type_hints(shape)
    found = [f"missing {key}" for key in sorted(shape.__required_keys__ - event.keys())]
    found += [f"undeclared {key}" for key in sorted(event.keys() - hints.keys())]
    found += [f"{key}={event[key]!r} is not {hints[key]}" for key in event.keys() & hints.keys() if not fits(event[key], hints[key])]
    return found


def test_the_kinds_and_their_shapes_agree():
    for kind, shape in events.SHAPES.items():
        assert typing.get_type_hints(shape)["event"] == typing.Literal[kind]
        assert {"event"} <= shape.__required_keys__ and "time" in shape.__optional_keys__
    assert problems({"event": "step", "step": 1}) and problems({"event": "eval", "step": 1, "eval_loss": "low"})
    assert problems({"event": "warning", "message": "m", "extra": 1}) and problems({"event": "nope"})


def test_lines_written_before_the_declaration_still_fit():
    lines = [json.loads(line) for line in OLD_LINES.splitlines()]
    assert {e["event"] for e in lines} == set(events.SHAPES)
    assert [(e["event"], problems(e)) for e in lines if problems(e)] == []


def test_every_event_a_run_writes_has_its_declared_shape(tiny_model_dir):
    """A job run here with every kind of event on (validation, probe, evaluation, few posts), one that fails, one cancelled."""
    clean = CleanConfig(near_duplicates=False)
    posts, report = clean_posts([Post(t) for t in POSTS], clean)
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=4, batch_size=4, max_length=96, eval_steps=2,
                         evaluate=True, probe_steps=2)
    trained, echoed = jobs.create_job(posts, "Shapes", config, clean, report), []
    jobs.run_job(trained, echo=echoed.append)
    failed = jobs.create_job(posts[:3], "Too few", config, clean, report)
    with pytest.raises(Exception, match="Only 3 posts"):
        jobs.run_job(failed)
    cancelled = jobs.create_job(posts, "Cancelled", config, clean, report)
    stand_in = subprocess.Popen(["sleep", "60"], start_new_session=True)  # cancel kills the job's process group
    cancelled.set_status("running", pid=stand_in.pid)
    jobs.cancel(cancelled)
    stand_in.wait()

    written = trained.events() + failed.events() + cancelled.events()
    assert {e["event"] for e in written} == set(events.SHAPES), "the runs wrote every declared kind"
    assert [(e, problems(e)) for e in written + echoed if problems(e)] == []
    assert all("time" in e for e in written) and not any("time" in e for e in echoed)
    relayed = [{k: v for k, v in e.items() if k != "time"} for e in trained.events() if e["event"] not in (events.QUEUED, events.DONE)]
    assert echoed == relayed, "the run's callback gets what its progress file gets, less the job's own events"
