"""Progress events: the declared shape of each event a training run reports, one JSON object a line.

A run reports to a callback (`Progress`); a job (studio.training.jobs) also appends each event to its
`progress.jsonl`, with a `time` added. Every event has `event`, its kind; the rest depends on the kind:

    kind       written by                                   read by
    start      training.run (the Trainer is built)          cli.train (opens the bar), tests
    step       training.run (each optimizer step)           cli.train (the bar), ui.train_tab (line, plot, list)
    eval       training.run (each validation loss)          cli.train, ui.train_tab (line, plot)
    probe      evaluation.probe (quick knowledge probe)     cli.train, ui.train_tab (plot)
    warning    training.run, evaluation.probe               cli.train, ui.train_tab
    evaluate   evaluation.run (before each stage; "done")   cli.train, cli.evaluate, ui.train_tab, ui.evaluation_view
    queued     training.jobs (waiting for the lock)         tests (status.json says it for the UI)
    cancelled  training.jobs.cancel                         tests (status.json says it for the UI)
    error      training.jobs (the run failed)               tests (status.json carries the message)
    done       training.jobs (the persona is saved)         cli.train (the closing line, --json), ui.train_tab

Writers build events with these types (`StepEvent(event=STEP, ...)`); readers pick events with
`of_kind(events, STEP)` or compare `event["event"]` with the kind constants. The keys and values are
those of the first progress files: old files still read.
"""

from __future__ import annotations

from typing import Callable, Iterable, Literal, TypedDict, Union

START, STEP, EVAL, PROBE, WARNING, EVALUATE = "start", "step", "eval", "probe", "warning", "evaluate"
QUEUED, CANCELLED, ERROR, DONE = "queued", "cancelled", "error", "done"
STAGE_DONE = "done"  # an evaluate event's stage once every stage has run (it then has the summary)


class Written(TypedDict, total=False):
    time: float  # seconds since the epoch, added by Job.emit to each line of progress.jsonl


class StartEvent(Written):
    event: Literal["start"]
    total: int | None  # steps planned; None when epochs set the length
    train_posts: int
    validation_posts: int
    method: str  # "qlora-nf4", "dora" or "lora-fp32"
    device: str  # "cuda" or "cpu"


class StepEvent(Written):
    event: Literal["step"]
    step: int
    total: int
    loss: float
    lr: float | None
    epoch: float
    tokens_per_s: float | None
    elapsed_s: float
    eta_s: float


class EvalEvent(Written):
    event: Literal["eval"]
    step: int
    eval_loss: float  # validation loss


class ProbeEvent(Written):
    event: Literal["probe"]
    step: int  # 0: before training
    accuracy: float  # share of the quick probe's questions answered right
    questions: int


class WarningEvent(Written):
    event: Literal["warning"]
    message: str


class _EvaluateFields(Written):
    event: Literal["evaluate"]
    stage: str  # one of studio.evaluation.run.STAGES, or STAGE_DONE
    done: int  # stages finished
    total: int


class EvaluateEvent(_EvaluateFields, total=False):
    summary: str  # only with STAGE_DONE: the evaluation's summary line


class QueuedEvent(Written):
    event: Literal["queued"]


class CancelledEvent(Written):
    event: Literal["cancelled"]


class ErrorEvent(Written):
    event: Literal["error"]
    message: str


class DoneEvent(Written):
    event: Literal["done"]
    persona: str  # the saved persona's slug
    steps: int
    seconds: float
    final_loss: float | None
    posts_used: int
    best_eval_loss: float | None


Event = Union[StartEvent, StepEvent, EvalEvent, ProbeEvent, WarningEvent, EvaluateEvent,
              QueuedEvent, CancelledEvent, ErrorEvent, DoneEvent]
SHAPES: dict[str, type] = {
    START: StartEvent, STEP: StepEvent, EVAL: EvalEvent, PROBE: ProbeEvent, WARNING: WarningEvent,
    EVALUATE: EvaluateEvent, QUEUED: QueuedEvent, CANCELLED: CancelledEvent, ERROR: ErrorEvent, DONE: DoneEvent,
}
Progress = Callable[[Event], None]  # where a run reports its events


def ignore(event: Event) -> None:
    """The progress callback of a run nobody watches."""


def of_kind(events: Iterable[dict], kind: str) -> list[dict]:
    """The events of one kind, in the order they came (a reader's usual first step)."""
    return [event for event in events if event["event"] == kind]
