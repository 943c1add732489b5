"""The Personas tab's editor of a persona's own facts: one row per question, its answers separated by ';'.
The evaluation asks them (studio.evaluation.facts); the CLI does the same with `python -m studio facts NAME`."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from studio.errors import PersonaError
from studio.persona.facts import from_table, table
from studio.persona.registry import PersonaRegistry
from studio.ui.common import user_errors

HEADERS = ["question", "answers (separated by ;)"]
EMPTY_ROWS = 3  # blank rows to write new facts in


def rows(slug: str | None) -> pd.DataFrame:
    facts = []
    if slug:
        try:
            facts = PersonaRegistry().get(slug).facts
        except PersonaError:
            facts = []
    return pd.DataFrame(table(facts) + [["", ""]] * EMPTY_ROWS, columns=HEADERS)


@user_errors
def save(slug: str | None, frame) -> tuple[str, pd.DataFrame]:
    if not slug:
        raise PersonaError("Choose a persona first.")
    values = frame.values.tolist() if isinstance(frame, pd.DataFrame) else (frame or {}).get("data", frame) or []
    persona = PersonaRegistry().set_facts(slug, from_table(values))
    message = (f"Saved {len(persona.facts)} facts for {persona.name}. The next evaluation asks them "
               "(Run evaluation, or python -m studio eval " + persona.slug + ").")
    gr.Info(message)
    return message, rows(slug)


def build(selected: gr.Dropdown) -> None:
    gr.Markdown("Facts about the person, written as questions and the answers they would give (e.g. 趣味は？ → "
                "アニメ; ドライブ; 麻雀). The evaluation asks each in the chat format and as plain text, base model "
                "against persona; a reply counts when it contains one of the answers.")
    editor = gr.Dataframe(value=rows(None), headers=HEADERS, column_count=2, column_limits=(2, 2), interactive=True, wrap=True,
                          elem_id="personas-facts")
    with gr.Row():
        save_button = gr.Button("Save facts", elem_id="personas-facts-save", scale=1)
        status = gr.Markdown(elem_id="personas-facts-status")
    selected.change(rows, selected, editor, api_visibility="private")
    save_button.click(save, [selected, editor], [status, editor], api_name="persona_facts_save")
