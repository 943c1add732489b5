"""The evaluation of a persona: summary, a base-against-persona table and plot, sample replies beside
their nearest training post, the knowledge questions lost, and a button to run it again.

`build()` makes the whole view (with its own persona picker unless one is passed), so it can sit in
its own tab or inside the Personas tab.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from studio.evaluation.config import EvalConfig
from studio.errors import PersonaError
from studio.evaluation.report import THRESHOLDS, metrics_rows
from studio.persona.registry import PersonaRegistry
from studio.ui.common import user_errors

PLOTTED = {  # measures on a 0-1 scale, short labels for the plot
    "classifier AUC against their posts (0.5 = can't tell)": "classifier AUC",
    "character n-gram distance to their posts (0 = same)": "n-gram distance",
    "embedding similarity to their posts (English-only)": "embedding similarity (EN)",
    "replies copying a training post": "copied replies",
    "knowledge probe accuracy": "knowledge probe",
    "share with emoji": "emoji share",
    "share in Japanese": "Japanese share",
    "Japanese sentences in です/ます form": "です/ます share",
}
WHO = ("base model", "persona", "their posts")
EMPTY_NOTE = "No evaluation yet for this persona: press **Run evaluation** (about a minute on the bundled model)."


def persona_choices() -> list[tuple[str, str]]:
    return [(f"{p.name} ({p.slug})", p.slug) for p in PersonaRegistry().list()]


def refresh(current: str | None):
    choices = persona_choices()
    values = [v for _, v in choices]
    return gr.Dropdown(choices=choices, value=current if current in values else (values[0] if values else None))


def _frames(result: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = metrics_rows(result)
    table = pd.DataFrame([[m, *("" if x is None else round(x, 4) for x in values)] for m, *values in rows],
                         columns=["measure", *WHO])
    plot = pd.DataFrame([{"bar": f"{PLOTTED[m]} · {who.split()[-1]}", "who": who, "value": float(v)}
                         for m, *values in rows if m in PLOTTED for who, v in zip(WHO, values) if v is not None],
                        columns=["bar", "who", "value"])
    samples = pd.DataFrame(
        [[s["prompt"], s["persona"], ("COPY: " + ", ".join(s["reasons"])) if s["copied"] else "own words",
          s["nearest"] or "", s["base"]] for s in result.get("samples", [])],
        columns=["prompt", "persona reply", "copied?", "nearest training post", "base model reply"])
    knowledge = result.get("knowledge") or {"rows": [], "lost": []}
    lost = pd.DataFrame([[r["question"], r["expected"], r["base"], r["persona"]] for r in knowledge["rows"]
                         if r["id"] in knowledge["lost"]], columns=["question lost", "expected", "base model said", "persona said"])
    return table, plot, samples, lost


def show(slug: str | None):
    """The stored evaluation of a persona, as the view's outputs."""
    empty = _frames({})
    if not slug:
        return ("Choose a persona (train one in the Train tab first).", *empty)
    try:
        persona = PersonaRegistry().get(slug)
    except PersonaError as exc:
        return (str(exc), *empty)
    result = persona.extra.get("evaluation")
    if not isinstance(result, dict) or "summary" not in result:
        return (f"### {persona.name}\n{EMPTY_NOTE}", *empty)
    text = (f"### {persona.name}\n**{result['summary']}**\n\n"
            + ("Verdict: " + "; ".join(f"{k}: {v}" for k, v in result.get("verdicts", {}).items()) + ". " if result.get("verdicts") else "")
            + f"Evaluated {result.get('created_at', '?')} in {result.get('seconds', 0):.0f} s on {result['config'].get('prompts')} prompts; "
            f"compared with {result.get('reference', 'their posts')}."
            + "".join(f"\n\n⚠️ {w}" for w in result.get("warnings", [])))
    return (text, *_frames(result))


@user_errors
def run(slug: str | None, prompts: float, progress=gr.Progress()):
    from studio.evaluation.run import evaluate_persona
    from studio.chat.threads import run_apart

    if not slug:
        raise PersonaError("Choose a persona to evaluate (train one in the Train tab first).")
    progress(0, desc="loading the model")

    def report(event: dict):
        progress((event["done"], event["total"]), desc=f"evaluating: {event['stage']}", unit="stages")

    # the model work runs in a thread that ends with it: see studio.chat.threads (keeps chat decoding fast)
    run_apart(evaluate_persona, slug, EvalConfig(prompts=int(prompts)), progress=report)
    return show(slug)


def build(persona: gr.Dropdown | None = None) -> gr.Dropdown:
    """The evaluation view; returns the persona picker (its own unless `persona` is given) so the
    caller can refresh its choices when the registry changes."""
    if persona is None:
        persona = gr.Dropdown(label="Persona", choices=persona_choices(), elem_id="eval-persona", allow_custom_value=False)
    with gr.Row():
        prompts = gr.Slider(4, 64, value=EvalConfig.prompts, step=2, label="Prompts (in the languages of their posts)",
                            elem_id="eval-prompts", scale=3)
        button = gr.Button("Run evaluation", variant="primary", elem_id="eval-run", scale=1)
    summary = gr.Markdown(EMPTY_NOTE, elem_id="eval-summary")
    with gr.Row():
        table = gr.Dataframe(label="Base model against persona (and their real posts)", interactive=False,
                             elem_id="eval-metrics", scale=3)
        plot = gr.BarPlot(x="bar", y="value", color="who", title="0-1 measures", x_title="", y_title="",
                          x_label_angle=-40, sort=None, height=340, y_lim=[0, 1], elem_id="eval-plot", scale=2)
    samples = gr.Dataframe(label="Sample replies, each beside its nearest training post", interactive=False,
                           wrap=True, column_widths=["14%", "28%", "12%", "26%", "20%"], elem_id="eval-samples")
    lost = gr.Dataframe(label="Knowledge questions the persona lost", interactive=False, wrap=True, elem_id="eval-lost")
    with gr.Accordion("How to read these numbers", open=False):
        gr.Markdown(THRESHOLDS)
    outputs = [summary, table, plot, samples, lost]
    persona.change(show, persona, outputs)
    button.click(run, [persona, prompts], outputs)
    return persona
