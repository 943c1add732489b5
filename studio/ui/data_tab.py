"""Data tab: upload files or paste posts; see what was kept and a preview."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from studio.clean import clean_posts
from studio.errors import InputError
from studio.ingest import Post, load_posts, parse_pasted
from studio.ingest.base import read_text
from studio.ingest.table import table_columns
from studio.ui.common import user_errors

DETECT = "(detect)"
PREVIEW_ROWS = 50
FILE_TYPES = [".txt", ".csv", ".tsv", ".jsonl", ".json"]


def _paths(files) -> list[str]:
    return [f if isinstance(f, str) else f.name for f in (files or [])]


def columns_for(files):
    """Offer the columns of the first CSV/TSV upload, so the user can pick the text column."""
    for path in _paths(files):
        if Path(path).suffix.lower() in (".csv", ".tsv"):
            try:
                columns = table_columns(read_text(Path(path).read_bytes()[:1_000_000], Path(path).name))
            except InputError:
                break
            return gr.Dropdown(choices=[DETECT, *columns], value=DETECT, visible=True)
    return gr.Dropdown(choices=[DETECT], value=DETECT, visible=False)


@user_errors
def load(files, pasted: str, column: str):
    paths = _paths(files)
    if not paths and not (pasted or "").strip():
        raise InputError("Nothing to load: upload a file (.txt, .csv, .tsv, .jsonl, .json) or paste posts, one per line.")
    posts: list[Post] = load_posts(paths, text_column=None if column in (None, DETECT) else column) if paths else []
    if (pasted or "").strip():
        posts += parse_pasted(pasted)
    kept, report = clean_posts(posts)
    lines = [f"**{report.loaded}** posts loaded, **{report.kept}** kept."]
    for step, count in report.removed.items():
        examples = " / ".join(f"“{' '.join(e.split())[:60]}”" for e in report.examples.get(step, [])[:3])
        lines.append(f"- {step}: {count} removed" + (f" (e.g. {examples})" if examples else ""))
    if report.kept < 100:
        gr.Warning(f"Only {report.kept} posts: expect a weak persona. A few hundred or more work better.")
    preview = [[i + 1, p.text] for i, p in enumerate(kept[:PREVIEW_ROWS])]
    return [p.to_dict() for p in kept], "\n".join(lines), preview


def build(posts: gr.State) -> None:
    gr.Markdown("Upload a person's posts: `.txt` (one post per line), `.csv`/`.tsv` (a text column), "
                "`.jsonl`/`.json` (a `text` field), or paste them below.")
    with gr.Row():
        files = gr.File(label="Files with posts", file_count="multiple", file_types=FILE_TYPES, elem_id="data-files")
        with gr.Column():
            pasted = gr.Textbox(label="…or paste posts (one per line)", lines=6, elem_id="data-paste")
            column = gr.Dropdown(label="CSV text column", choices=[DETECT], value=DETECT, visible=False)
    load_button = gr.Button("Load posts", variant="primary", elem_id="data-load")
    summary = gr.Markdown(elem_id="data-summary")
    preview = gr.Dataframe(headers=["#", "post"], label=f"Preview (first {PREVIEW_ROWS} kept posts)",
                           interactive=False, wrap=True, elem_id="data-preview")
    files.change(columns_for, files, column)
    load_button.click(load, [files, pasted, column], [posts, summary, preview])
