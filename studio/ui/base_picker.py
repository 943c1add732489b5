"""The Train tab's base-model picker: a drop-down of the catalog (studio.catalog: the bundled model, local
folders, `$STUDIO_MODELS_DIR`, the Hugging Face cache) and a box for any folder path or Hub id; below them one
info line with the chosen model's size, licence, chat template and whether training fits this machine's memory
(LoRA fp32 on the CPU, bf16 LoRA and 4-bit QLoRA on a GPU), shown before training."""

from __future__ import annotations

import logging

import gradio as gr

from studio.catalog import Entry, describe, entries
from studio.config import default_base
from studio.errors import StudioError

log = logging.getLogger(__name__)
MARKS = {True: "✅", False: "⛔", None: "➖"}


def choices() -> list[tuple[str, str]]:
    """(label, spec) of every model the catalog lists, the default base first when it is not listed."""
    listed, left_out = entries()
    for problem in left_out:
        log.info("base model left out of the picker: %s", problem)
    pairs = [(e.label, e.spec) for e in listed]
    default = default_base()
    if default not in {spec for _, spec in pairs}:
        pairs.insert(0, (f"default: {default}", default))
    return pairs


def chosen(picked: str | None, typed: str | None) -> str:
    """The base model training uses: what was typed (a folder path or a Hub id), else the drop-down's."""
    return (typed or "").strip() or (picked or "").strip() or default_base()


def entry_markdown(entry: Entry) -> str:
    shown = "" if entry.spec == entry.model_id else f" `{entry.spec}`"
    lines = [f"**Base model**{shown}: {entry.summary()}"]
    lines += [f"- {MARKS[f.fits]} {f.describe()}" for f in entry.fits]
    if entry.note:
        lines.append(f"- {entry.note}")
    return "\n".join(lines)


def info(picked: str | None, typed: str | None) -> str:
    """The info line; a spec that cannot be used is said here (training would refuse it with the same words)."""
    spec = chosen(picked, typed)
    try:
        return entry_markdown(describe(spec))
    except StudioError as exc:
        return f"⚠ **Base model** `{spec}`: {exc}"


def first_info(picked: str | None, typed: str | None) -> str:
    """The info line as the page loads (the bundled model's by default): a view of what the list offers."""
    return info(picked, typed)


def build(help_text: str) -> tuple[gr.Dropdown, gr.Textbox]:
    """The picker's components (inside the caller's layout); the info line fills on page load and on each change."""
    listed = choices()
    default = default_base()
    with gr.Row():
        picked = gr.Dropdown(listed, value=default, label="Base model", info=help_text, elem_id="train-base-pick", scale=2)
        typed = gr.Textbox(label="…or a model folder's path or a Hub id", placeholder="/path/to/model or owner/name",
                           info="Overrides the list when filled. A Hub id must be in the Hugging Face cache when offline.",
                           elem_id="train-base", scale=2)
        refresh = gr.Button("↻ Rescan", elem_id="train-base-rescan", scale=0, min_width=90)
    note = gr.Markdown(first_info, inputs=[picked, typed], elem_id="train-base-info")
    gr.on([picked.change, typed.submit, typed.blur], info, [picked, typed], note, show_progress="minimal")
    refresh.click(lambda: gr.Dropdown(choices=choices()), None, picked)
    return picked, typed
