"""Every version of one persona side by side: a table of each version's measures and a plot of style against
knowledge kept (one point per version, the base model as the reference), so a user can choose which version
to keep (restore it in the Personas tab).

The figures come from each version's stored evaluation (persona.json "evaluation", studio.evaluation.run);
keys that an older evaluation lacks (the discriminator, facts) show as blanks, never as an error.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from studio.errors import PersonaError
from studio.persona.registry import Persona, PersonaRegistry

TABLE_COLUMNS = ["version", "trained", "steps", "knowledge kept", "kept %", "copy rate %", "style", "held-out loss",
                 "facts known"]
PLOT_COLUMNS = ["knowledge kept", "style closeness", "version", "style measure"]
DISCRIMINATOR = "1 - discriminator AUC"
SIMILARITY = "embedding similarity (English-only)"
X_TITLE = "knowledge kept (of what the base model knew)"
Y_TITLE = "hard to tell from their posts (1 - AUC)"
Y_SIMILARITY = "style: embedding similarity to their posts"
Y_MIXED = "1 - AUC (no AUC: embedding similarity)"
PALETTE = ["#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
BASE_COLOUR = "#7f7f7f"
NOTE = ("Each point is one version of this persona (the base model for reference). Right is better: more of what "
        "the base model knew is kept. Up is better: a classifier finds the replies harder to tell from their real posts "
        "(1 - AUC, 0.5 = it cannot tell them apart). Versions evaluated before the discriminator existed use the "
        "embedding similarity instead (English-only; the tooltip says which). Restore the version you prefer below.")


def _evaluation(persona: Persona) -> dict:
    result = persona.extra.get("evaluation")
    return result if isinstance(result, dict) else {}


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def knowledge_kept(result: dict) -> tuple[int, int] | None:
    """(kept, known): of the probe questions the base model answered right, how many the persona still does."""
    knowledge = result.get("knowledge")
    if not isinstance(knowledge, dict) or not isinstance(knowledge.get("known"), int) or not knowledge["known"]:
        return None
    return int(knowledge.get("kept") or 0), knowledge["known"]


def _discriminator(result: dict) -> dict:
    style = result.get("style")
    found = style.get("discriminator") if isinstance(style, dict) else None
    return found if isinstance(found, dict) and _number(found.get("persona")) is not None else {}


def _similarity(result: dict) -> dict:
    style = result.get("style")
    found = style.get("similarity") if isinstance(style, dict) else None
    return found if isinstance(found, dict) else {}


def style_closeness(result: dict, side: str = "persona") -> tuple[float, str] | None:
    """(value, measure) for the plot's y axis: 1 - discriminator AUC where the evaluation has the discriminator,
    else the embedding similarity; None when neither was measured for `side` ("persona" or "base")."""
    auc = _number(_discriminator(result).get(side))
    if auc is not None:
        return round(1 - auc, 4), DISCRIMINATOR
    similarity = _number(_similarity(result).get(side))
    return (round(similarity, 4), SIMILARITY) if similarity is not None else None


def style_text(result: dict) -> str:
    """The style cell: discriminator AUC persona vs base, else the embedding similarity (with their posts')."""
    disc = _discriminator(result)
    if disc:
        base = _number(disc.get("base"))
        return f"AUC {disc['persona']:.2f}" + (f" (base {base:.2f})" if base is not None else "")
    sim = _similarity(result)
    if _number(sim.get("persona")) is None:
        return ""
    extra = [f"{label} {sim[k]:.2f}" for k, label in (("base", "base"), ("real", "their posts")) if _number(sim.get(k)) is not None]
    return f"similarity {sim['persona']:.2f}" + (f" ({', '.join(extra)})" if extra else "")


def _facts(result: dict) -> str:
    facts = result.get("facts")
    if not isinstance(facts, dict) or not facts.get("asked"):
        return ""
    base = facts.get("base_known")
    return f"{facts.get('persona_known', 0)}/{facts['asked']}" + (f" (base {base})" if isinstance(base, int) else "")


def version_label(persona: Persona, current: bool) -> str:
    return f"v{persona.version}" + (" (current)" if current else "")


def versions_table(versions: list[Persona]) -> pd.DataFrame:
    """One row per version (current first, as PersonaRegistry.versions gives them) with its measures."""
    rows = []
    for i, persona in enumerate(versions):
        result = _evaluation(persona)
        kept = knowledge_kept(result)
        memo = result.get("memorisation") if isinstance(result.get("memorisation"), dict) else {}
        copy = _number(memo.get("copy_rate"))
        loss = ((result.get("loss") or {}).get("persona") or {}).get("loss") if isinstance(result.get("loss"), dict) else None
        if _number(loss) is None:
            loss = persona.metrics.get("best_eval_loss")  # no evaluation: training's own validation loss
        rows.append([
            version_label(persona, i == 0), (persona.created_at or "")[:16], persona.metrics.get("steps"),
            f"{kept[0]}/{kept[1]}" if kept else "", round(100 * kept[0] / kept[1], 1) if kept else None,
            round(100 * copy, 1) if copy is not None else None, style_text(result) if result else "not evaluated",
            round(loss, 4) if _number(loss) is not None else None, _facts(result),
        ])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def style_knowledge_points(versions: list[Persona]) -> pd.DataFrame:
    """The plot's points: one per evaluated version (x knowledge kept share, y style closeness) and the base
    model (all it knew kept, its own style closeness) from the newest evaluation that measured it."""
    rows, base = [], None
    for i, persona in enumerate(versions):
        result = _evaluation(persona)
        kept, style = knowledge_kept(result), style_closeness(result)
        if kept is None or style is None:
            continue
        rows.append([round(kept[0] / kept[1], 4), style[0], version_label(persona, i == 0), style[1]])
        if base is None and style_closeness(result, "base") is not None:
            base = [1.0, *style_closeness(result, "base")]
    if base is not None:
        rows.append([base[0], base[1], "base model", base[2]])
    return pd.DataFrame(rows, columns=PLOT_COLUMNS)


def show(slug: str | None):
    """The table and the plot of the selected persona's versions; the plot and its note only where a version
    has an evaluation to plot (a native plot given an empty frame does not draw points given later, gradio 6.31)."""
    try:
        versions = PersonaRegistry().versions(slug) if slug else []
    except PersonaError:
        versions = []
    points = style_knowledge_points(versions)
    if not len(points):  # hidden, its last points kept: a plot given an empty frame draws nothing later
        return versions_table(versions), gr.ScatterPlot(visible=False), gr.Markdown(visible=False)
    return versions_table(versions), plot_update(points), gr.Markdown(visible=True)


def plot_update(points: pd.DataFrame) -> gr.ScatterPlot:
    """The plot update: a colour per version (current red, the base model grey) and a y range that fits
    1 - AUC (0 to about 0.5) or, with an embedding similarity among the points, 0 to 1."""
    labels = [v for v in points["version"] if v != "base model"]
    colours = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)} | {"base model": BASE_COLOUR}
    measures = set(points["style measure"])
    top = 1.0 if SIMILARITY in measures else max(0.55, float(points["style closeness"].max()) + 0.05)
    title = (Y_TITLE if measures == {DISCRIMINATOR} else Y_SIMILARITY if measures == {SIMILARITY} else Y_MIXED)
    return gr.ScatterPlot(value=points, visible=True, color_map=colours, y_lim=[-0.02, round(top + 0.02, 2)], y_title=title)


def build() -> list:
    """The view's components (table, plot, its note), for the Personas tab to fill with `show`."""
    table = gr.Dataframe(headers=TABLE_COLUMNS, label="Every version side by side (current first)", interactive=False,
                         wrap=True, elem_id="personas-versions-table")
    with gr.Row():
        plot = gr.ScatterPlot(x="knowledge kept", y="style closeness", color="version", color_title="version",
                              label="Style against knowledge kept, one point per version", x_title=X_TITLE,
                              y_title=Y_TITLE, x_lim=[-0.03, 1.05], y_lim=[-0.02, 1.02], x_axis_format=".0%", tooltip="all",
                              elem_id="personas-versions-plot", scale=3, visible=False)
        note = gr.Markdown(NOTE, elem_id="personas-versions-note", visible=False)
    return [table, plot, note]
