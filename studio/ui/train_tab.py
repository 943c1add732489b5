"""Train tab: settings, a background training job, and its live progress, loss plot, cancel and resume.

The job runs in its own process (studio.training.jobs); this tab only starts it and polls its progress file,
so reloading the page or opening a second browser shows the same run.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from studio.training import jobs
from studio import space
from studio.training.config import TrainConfig
from studio.errors import InputError, PersonaError
from studio.events import DONE, EVAL, EVALUATE, PROBE, STAGE_DONE, STEP, WARNING, of_kind
from studio.models import cuda_available
from studio.persona.consent import make_consent
from studio.ui import base_picker
from studio.ui.common import user_errors
from studio.ui.data_tab import selected
from studio.ui.fit_line import fit_markdown

POLL_SECONDS = 1.0


def device_note() -> str:
    if cuda_available():
        return "CUDA GPU found: method 'auto' trains **4-bit QLoRA** (bitsandbytes NF4, bf16 compute)."
    return ("No CUDA GPU: training uses **plain LoRA in fp32 on the CPU**. QLoRA is off: 4-bit needs a CUDA GPU "
            "(on a CPU it saves no memory and stops learning).")


@user_errors
def start(posts: list[dict], report, clean, table, name: str, picked: str, typed: str, steps: float, lr: float,
          rank: float, system: str, overwrite: bool, method: str, epochs: float, eval_steps: float, patience: float,
          probe_steps: float = 0, agreed: bool = False, consent: str = "", processes: float = 1):
    if not posts:
        raise InputError("No posts loaded: go to the Data tab, upload posts and press 'Load and clean posts' first.")
    space.check_training_allowed()  # off on ZeroGPU / CPU Spaces, with the reason (studio/space.py)
    config = TrainConfig(base_model=base_picker.chosen(picked, typed), method=method, max_steps=steps, learning_rate=lr, rank=rank,
                         epochs=epochs, eval_steps=eval_steps, patience=patience, probe_steps=probe_steps or 0,
                         processes=processes or 1, consent=consent_statement(agreed, consent))
    chosen, report = selected(posts, report, table)
    if not chosen:
        raise InputError("Every post is unticked: tick the posts to train on in the Data tab.")
    job = jobs.launch(jobs.create_job(chosen, name, config, clean, report, system_prompt=system, overwrite=overwrite))
    gr.Info(f"Training {job.slug!r} started in the background.")
    return job.slug


def max_processes() -> int:
    """How many training processes this machine can run: one per CUDA GPU, else one per CPU core."""
    import os

    import torch

    return torch.cuda.device_count() if cuda_available() else (os.cpu_count() or 1)


def processes_info() -> str:
    if cuda_available():
        return f"One process per GPU (DDP under accelerate; {max_processes()} GPUs here); the global batch stays the same."
    return ("CPU processes with gloo, each on its share of the cores: the same run, no faster on one machine "
            "(a dry run of a multi-GPU setup).")


def consent_statement(agreed: bool, statement: str) -> str:
    """The consent line to train with: both the tick and the text, or neither (then a warning: no push later)."""
    statement = (statement or "").strip()
    if agreed or statement:
        return make_consent(statement, agreed)["statement"]
    gr.Warning("No consent statement: the persona trains, but it cannot be pushed to the Hub until one is recorded.")
    return ""


def _shown(slug: str | None) -> jobs.Job | None:
    """The job this tab shows: the one it started, else the active one, else the newest."""
    all_jobs = jobs.list_jobs()
    by_slug = {j.slug: j for j in all_jobs}
    if slug in by_slug:
        return by_slug[slug]
    active = [j for j in all_jobs if j.status()["status"] in jobs.ACTIVE]
    return (active or all_jobs or [None])[-1]


def _progress_html(done: int, total: int | None, label: str) -> str:
    total = total or max(done, 1)
    return (f"<div id='train-progress'><progress value='{done}' max='{total}' style='width:100%;height:18px'></progress>"
            f"<div>{label}</div></div>")


def _curve(steps: list[dict]):
    """Training loss points for the plot. No points: leave the plot as it is, because a plot first given an
    empty frame (or None) never draws its lines afterwards (seen with gradio 6.31)."""
    rows = [{"step": e["step"], "loss": round(e["loss"], 3), "series": "training"} for e in steps]
    return pd.DataFrame(rows, columns=["step", "loss", "series"]) if rows else gr.skip()


# Knowledge and held-out loss during training, beside the training loss: the frames and the plots -----------

def knowledge_frame(probes: list[dict]) -> pd.DataFrame:
    """The quick knowledge probe's accuracy (0-1) at each step it ran (step 0: the base model, before training)."""
    return pd.DataFrame([{"step": e["step"], "accuracy": round(e["accuracy"], 3), "series": "knowledge probe"}
                         for e in probes], columns=["step", "accuracy", "series"])


def heldout_frame(evals: list[dict]) -> pd.DataFrame:
    """The held-out (validation) loss at each step it was measured."""
    return pd.DataFrame([{"step": e["step"], "loss": round(e["eval_loss"], 3), "series": "held-out loss"} for e in evals],
                        columns=["step", "loss", "series"])


def _shown_plot(frame: pd.DataFrame):
    """A plot with points, or hidden until it has some (a native plot given an empty frame draws nothing later)."""
    return gr.ScatterPlot(value=frame, visible=True) if len(frame) else gr.ScatterPlot(visible=False)


def quality_line(probes: list[dict]) -> str:
    """The knowledge figure of the status line: the probe now against before training."""
    if not probes:
        return ""
    first, last = probes[0], probes[-1]
    line = f", knowledge probe {last['accuracy']:.0%}"
    return line + (f" (before training {first['accuracy']:.0%})" if first["step"] == 0 and last is not first else "")


def quality_plots() -> tuple[gr.ScatterPlot, gr.ScatterPlot]:
    """Held-out loss and knowledge plots (hidden until the run reports a point). No fixed height: with a label
    and a fixed height the legend falls outside the block (gradio 6.31)."""
    heldout = gr.ScatterPlot(x="step", y="loss", color="series", label="Held-out loss (validation posts)",
                             visible=False, elem_id="train-heldout", scale=1)
    knowledge = gr.ScatterPlot(x="step", y="accuracy", color="series", y_lim=[0, 1], visible=False,
                               label="Knowledge: share of the quick probe's questions answered right",
                               elem_id="train-knowledge", scale=1)
    return heldout, knowledge


def render(slug: str | None):
    """Status line, progress bar, the training loss, held-out loss and knowledge plots, and the job list, from
    the progress files."""
    job = _shown(slug)
    if job is None:
        return "No training yet.", "", _curve([]), gr.skip(), gr.skip(), None, None
    status, events = job.status(), job.events()
    steps, evals, probes = of_kind(events, STEP), of_kind(events, EVAL), of_kind(events, PROBE)
    warnings = [e["message"] for e in of_kind(events, WARNING)]
    last = steps[-1] if steps else None
    state = status["status"]
    processes = job.request()["config"].get("processes", 1)
    line = f"**{job.request()['name']}** (`{job.slug}`): {state}" + (f" on {processes} processes" if processes > 1 else "")
    if last:
        line += (f", step {last['step']}/{last['total']}, loss {last['loss']:.3f}, {last['tokens_per_s']:.0f} tokens/s, "
                 f"ETA {last['eta_s']:.0f} s")
    if evals:
        line += f", validation loss {evals[-1]['eval_loss']:.3f}"
    line += quality_line(probes)
    evaluating = of_kind(events, EVALUATE)  # the evaluation after training (studio.evaluation.run)
    if state == "running" and evaluating and evaluating[-1]["stage"] != STAGE_DONE:
        line += f", evaluating the persona ({evaluating[-1]['stage']})"
    if state == "done":
        done = of_kind(events, DONE)[-1]
        line += f". Saved persona `{done['persona']}` in {done['seconds']:.0f} s: open the Chat tab."
        if evaluating and evaluating[-1].get("summary"):
            line += f"\n\nEvaluation: {evaluating[-1]['summary']}"
    elif state in ("failed", "interrupted", "cancelled"):
        line += f". {status.get('message', '')}" + (" Press Resume to go on from the last checkpoint." if job.resumable() else "")
    elif state == "queued":
        line += ": waiting for the training before it to finish."
    if warnings:
        line += "\n\n" + "\n".join(f"- ⚠ {w}" for w in warnings[-2:])
    bar = _progress_html(last["step"] if last else 0, last["total"] if last else None, state)
    curve = _curve(steps)
    table = pd.DataFrame([[j.request()["name"], j.slug, j.status()["status"], max([e["step"] for e in of_kind(j.events(), STEP)], default=0)]
                          for j in reversed(jobs.list_jobs())], columns=["name", "slug", "status", "step"])
    finished = job.slug + ":" + str(status.get("time")) if state == "done" else None
    return line, bar, curve, _shown_plot(heldout_frame(evals)), _shown_plot(knowledge_frame(probes)), table, finished


@user_errors
def cancel(slug: str | None):
    job = _shown(slug)
    if job is None:
        raise PersonaError("There is no training to cancel.")
    jobs.cancel(job)
    gr.Info(f"Cancelled {job.slug!r}; the registry is unchanged.")


@user_errors
def resume(slug: str | None):
    job = _shown(slug)
    if job is None or not job.resumable():
        raise PersonaError("Nothing to resume: only a cancelled, failed or interrupted run with a checkpoint can go on.")
    jobs.launch(job, resume=True)
    return job.slug


def build(posts: gr.State, report: gr.State, clean: gr.State, table: gr.Dataframe) -> gr.State:
    """Returns a State that changes when a persona is saved (the Chat tab refreshes on it)."""
    gr.Markdown(device_note() + ("\n\n**" + space.training_disabled_reason() + "**" if space.training_disabled_reason() else ""),
                elem_id="train-device")
    help_ = TrainConfig.help()
    name = gr.Textbox(label="Persona name", placeholder="e.g. koume", elem_id="train-name")
    picked, typed = base_picker.build(help_["base_model"])  # drop-down + path/Hub id box + size, licence, memory fit
    with gr.Row():
        steps = gr.Slider(1, 2000, value=TrainConfig.max_steps, step=1, label="Training steps", info=help_["max_steps"],
                          elem_id="train-steps")
        lr = gr.Number(value=TrainConfig.learning_rate, label="Learning rate", info=help_["learning_rate"], minimum=1e-6, maximum=0.1)
        rank = gr.Dropdown([4, 8, 16, 32, 64], value=TrainConfig.rank, label="LoRA rank", info=help_["rank"])
    with gr.Accordion("More settings", open=False):
        with gr.Row():
            methods = ["auto", "lora", "dora"] + (["qlora"] if cuda_available() else [])
            method = gr.Dropdown(methods, value="auto", label="Method",
                                 info=help_["method"] + ("" if cuda_available() else " QLoRA is disabled: no CUDA GPU."))
            epochs = gr.Number(value=0, label="Epochs", info=help_["epochs"], minimum=0, maximum=100)
            eval_steps = gr.Number(value=TrainConfig.eval_steps, label="Validate every N steps", info=help_["eval_steps"], minimum=0,
                                   elem_id="train-eval-steps")
            patience = gr.Number(value=TrainConfig.patience, label="Early-stopping patience", info=help_["patience"], minimum=0)
            probe_steps = gr.Number(value=TrainConfig.probe_steps, label="Knowledge probe every N steps", info=help_["probe_steps"],
                                    minimum=0, elem_id="train-probe-steps")
            processes = gr.Number(value=1, label="Processes", info=processes_info(), minimum=1, maximum=max_processes(),
                                  precision=0, visible=max_processes() > 1, elem_id="train-processes")
    system = gr.Textbox(label="System prompt (optional)", lines=2,
                        placeholder="Default: 'You are NAME.' and a line on how they write, from their posts (style_line)")
    overwrite = gr.Checkbox(label="Replace an existing persona of this name", value=False)
    with gr.Row():  # consent: stored in persona.json and the model card; push refuses a persona without it
        agreed = gr.Checkbox(label="The person whose posts these are agreed to this persona", value=False,
                             elem_id="train-consent-agreed", scale=1)
        consent = gr.Textbox(label="Consent statement: who agreed, and when", info=help_["consent"], scale=3,
                             placeholder="e.g. Koume agreed in person on 2026-11-30 to a public persona", elem_id="train-consent")
    # Language fit: does the base model fit the posts' language? (studio.evaluation.fit), shown before training
    fit_note = gr.Markdown(elem_id="train-fit")
    gr.on([posts.change, picked.change, typed.blur], lambda p, a, b: fit_markdown(p, base_picker.chosen(a, b)),
          [posts, picked, typed], fit_note, show_progress="minimal")
    with gr.Row():
        start_button = gr.Button("Train persona", variant="primary", elem_id="train-button", scale=3)
        cancel_button = gr.Button("Cancel", variant="stop", elem_id="train-cancel", scale=1)
        resume_button = gr.Button("Resume", elem_id="train-resume", scale=1)
    status = gr.Markdown(elem_id="train-result", min_height=60, container=True)
    bar = gr.HTML(elem_id="train-bar")
    with gr.Row():
        curve = gr.LinePlot(x="step", y="loss", color="series", label="Training loss", elem_id="train-loss", scale=1)
        heldout, knowledge = quality_plots()
    runs = gr.Dataframe(headers=["name", "slug", "status", "step"], label="Runs (one trains at a time; the others wait)",
                        interactive=False, elem_id="train-runs")
    shown, trained = gr.State(None), gr.State(None)
    start_button.click(start, [posts, report, clean, table, name, picked, typed, steps, lr, rank, system, overwrite, method, epochs,
                               eval_steps, patience, probe_steps, agreed, consent, processes], shown)
    cancel_button.click(cancel, shown, None)
    resume_button.click(resume, shown, shown)
    timer = gr.Timer(POLL_SECONDS)
    timer.tick(render, shown, [status, bar, curve, heldout, knowledge, runs, trained], show_progress="hidden")
    return trained
