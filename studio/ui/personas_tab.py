"""Personas tab: the registry as a table, one persona's report and model card, and everything the
CLI does with personas: rename, delete, versions (restore, delete), export/import .zip, Character
Card, push to and pull from the Hugging Face Hub (token from the password field or HF_TOKEN)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from studio.persona import card, hub, share
from studio.errors import PersonaError
from studio.evaluation.gate import character_card_gated, export_gated, push_gated
from studio.persona.gate import GateError
from studio.persona.summary import describe, persona_row
from studio.persona.registry import PersonaRegistry, parse_ref, version_ref
from studio.ui import evaluation_view, facts_editor, gate_view, real_or_bot_tab, versions_view
from studio.ui.common import user_errors

COLUMNS = ["name", "slug", "version", "base model", "posts", "steps", "validation loss", "evaluation",
           "adapter MB", "created", "updated"]


def table() -> pd.DataFrame:
    rows = []
    for persona in PersonaRegistry().list():
        r = persona_row(persona)
        rows.append([r["name"], r["slug"], f"v{r['version']}", r["base_model"], r["posts"], r["steps"],
                     r["validation_loss"], r["evaluation"], r["adapter_mb"], r["created_at"][:16], r["updated_at"][:16]])
    return pd.DataFrame(rows, columns=COLUMNS)


def problems_text() -> str:
    problems = PersonaRegistry().problems()
    return "\n".join(["**Broken persona folders** (not loaded):"] + [f"- {p}" for p in problems]) if problems else ""


def _versions(slug: str | None) -> list[tuple[str, str]]:
    if not slug:
        return []
    try:
        versions = PersonaRegistry().versions(slug)
    except PersonaError:
        return []
    return [(f"v{p.version}{' (current)' if i == 0 else ''} · trained {p.created_at[:16]} · loss {p.metrics.get('final_loss')}",
             version_ref(p.base_slug, p.version)) for i, p in enumerate(versions)]


def refresh(selected: str | None = None, version: str | None = None):
    """Table, broken folders, the selection and the version picked (each kept while it still exists), and details."""
    slugs = [p.slug for p in PersonaRegistry().list()]
    selected = selected if selected in slugs else (slugs[0] if slugs else None)
    return (table(), problems_text(), gr.Dropdown(choices=slugs, value=selected), *details(selected, version))


def details(slug: str | None, version: str | None = None):
    """Report, model card preview, the version choices of one persona, and its versions side by side.

    A version the user picked stays picked: the page refreshes on load and on tab switch, and a late
    refresh must not swap the user's pick back to the current version under their click."""
    return (*_details(slug, version), *versions_view.show(slug))


def _details(slug: str | None, version: str | None = None):
    if not slug:
        return "No persona selected. Train one in the Train tab, import a .zip or pull one from the Hub.", "", gr.Dropdown(choices=[], value=None)
    try:
        persona = PersonaRegistry().get(slug)
    except PersonaError as exc:
        return str(exc), "", gr.Dropdown(choices=[], value=None)
    preview = str(card.build_card(persona)).split("---", 2)[-1]
    choices = _versions(slug)
    refs = [ref for _, ref in choices]
    picked = version if version in refs else (refs[0] if refs else None)
    return describe(persona, full_evaluation=False), preview, gr.Dropdown(choices=choices, value=picked)


def _done(message: str, selected: str | None):
    gr.Info(message)
    return (message, *refresh(selected))


@user_errors
def rename(slug: str, new_name: str):
    persona = PersonaRegistry().rename(_need(slug), new_name or "")
    return _done(f"Renamed to {persona.name!r} ({persona.slug}).", persona.slug)


@user_errors
def delete(slug: str, confirm: bool):
    if not confirm:
        raise PersonaError("Tick 'yes, delete it' first: deleting removes the persona and all its versions.")
    PersonaRegistry().delete(_need(slug))
    return _done(f"Deleted {slug}.", None)


@user_errors
def restore(slug: str, ref: str):
    number = parse_ref(ref)[1]
    if number is None:
        raise PersonaError("Choose a version to restore.")
    persona = PersonaRegistry().restore(_need(slug), number)  # restoring the current version is refused there
    return _done(f"{persona.slug} is now v{persona.version}; the version it replaced is kept.", persona.slug)


@user_errors
def delete_version(slug: str, ref: str):
    if not ref:
        raise PersonaError("Choose a version to delete.")
    PersonaRegistry().delete(ref)
    return _done(f"Deleted {ref}.", slug)


def _need(slug: str | None) -> str:
    if not slug:
        raise PersonaError("Choose a persona first.")
    return slug


@user_errors
def export(slug: str, ref: str | None, force: bool = False, reason: str = ""):
    """Export through the publish gate: a refusal shows the gate's report instead of a file."""
    folder = Path(tempfile.mkdtemp(prefix="studio-export-"))
    target = ref or _need(slug)
    try:
        path = str(export_gated(target, folder, force=force, reason=reason or ""))
    except GateError as exc:
        gr.Warning("The publish gate refused the export: see its report in the Hub section.")
        return None, f"**Export refused.** {exc}", gate_view.gate_report(target)
    return path, f"Exported {target}.", gate_view.gate_report(target)


@user_errors
def export_card(slug: str):
    folder = Path(tempfile.mkdtemp(prefix="studio-card-"))
    return str(character_card_gated(_need(slug), folder / f"{slug}.chara_card_v2.json"))  # a refusal is shown as the error


@user_errors
def import_file(path: str | None, name: str, base: str, overwrite: bool):
    if not path:
        raise PersonaError("Choose an exported persona .zip to import.")
    persona = share.import_zip(path, name=name or None, base=base or None, overwrite=overwrite)
    return _done(f"Imported {persona.name!r} as {persona.slug} (v{persona.version}).", persona.slug)


@user_errors
def push(slug: str, repo: str, private: bool, token: str, force: bool = False, reason: str = ""):
    """Push through consent and the publish gate; a refusal shows the gate's report with the offending replies."""
    try:
        url = push_gated(_need(slug), repo, token=token or None, private=private, force=force, reason=reason or "")
    except GateError as exc:
        gr.Warning("The publish gate refused the push: see its report below.")
        return (f"**Push refused.** {exc}", gate_view.gate_report(slug), *refresh(slug))
    gr.Info(f"Pushed {slug} to {url}")
    return (f"Pushed {slug} to {url}", gate_view.gate_report(slug), *refresh(slug))


@user_errors
def pull(repo: str, name: str, base: str, token: str):
    persona = hub.pull(repo, name=name or None, base=base or None, token=token or None)
    return _done(f"Pulled {repo} as {persona.slug}. It is in the Chat tab now.", persona.slug)


def build() -> tuple[gr.Dropdown, gr.Dropdown, list]:
    """The tab's components; returns the selector and what `refresh` updates, so the app can refresh them."""
    gr.Markdown("All personas in the registry. Chat with an earlier version as `NAME@vN` in the Chat tab or the CLI.")
    with gr.Row():
        grid = gr.Dataframe(value=table(), interactive=False, elem_id="personas-table", wrap=True)
    broken = gr.Markdown(problems_text(), elem_id="personas-broken")
    with gr.Row():
        selected = gr.Dropdown(label="Persona", choices=[], elem_id="personas-select", scale=3)
        refresh_button = gr.Button("Refresh", scale=1, elem_id="personas-refresh")
    status = gr.Markdown(elem_id="personas-status")
    with gr.Row():
        with gr.Column(scale=3):
            report = gr.Markdown(elem_id="personas-details")
        with gr.Column(scale=2):
            with gr.Accordion("Model card (README.md)", open=False):
                preview = gr.Markdown(elem_id="personas-card")
    with gr.Accordion("Evaluation", open=True):
        evaluation_view.build(selected)  # shows the selected persona's evaluation; "Run evaluation" redoes it
    with gr.Accordion("Their facts", open=False):
        facts_editor.build(selected)  # questions and answers about the person, asked by the evaluation
    with gr.Accordion("Versions", open=True):
        side_by_side = versions_view.build()  # each version's measures, and style against knowledge kept
        with gr.Row():
            version = gr.Dropdown(label="Version", choices=[], elem_id="personas-version", scale=3)
            restore_button = gr.Button("Restore this version", elem_id="personas-restore", scale=1)
            delete_version_button = gr.Button("Delete this version", variant="stop", elem_id="personas-delete-version", scale=1)
    with gr.Accordion("Real or bot?", open=False):
        real_or_bot_tab.build_results(selected, version)  # fooled rates, the ranking, the reply pool
    with gr.Accordion("Rename or delete", open=False):
        with gr.Row():
            new_name = gr.Textbox(label="New name", elem_id="personas-new-name")
            rename_button = gr.Button("Rename", elem_id="personas-rename")
        with gr.Row():
            confirm = gr.Checkbox(label="yes, delete it with all its versions", elem_id="personas-confirm")
            delete_button = gr.Button("Delete persona", variant="stop", elem_id="personas-delete")
    with gr.Accordion("Export / import", open=False):
        with gr.Row():
            export_button = gr.Button("Export .zip (selected version)", elem_id="personas-export")
            card_button = gr.Button("Export Character Card V2", elem_id="personas-export-card")
            exported = gr.File(label="Download", elem_id="personas-exported")
        with gr.Row():
            upload = gr.File(label="Persona .zip to import", file_types=[".zip"], type="filepath", elem_id="personas-import-file")
            with gr.Column():
                import_name = gr.Textbox(label="Name (optional)", elem_id="personas-import-name")
                import_base = gr.Textbox(label="Base model here (when the archive's is missing)", elem_id="personas-import-base")
                import_overwrite = gr.Checkbox(label="replace a persona of that name (kept as a version)")
                import_button = gr.Button("Import", elem_id="personas-import")
    with gr.Accordion("Their data (forget a post)", open=False):
        gate_view.build_forget(selected)  # remove posts, retrain into a new version, the gate checks the new one
    with gr.Accordion("Hugging Face Hub", open=False):
        consent, agreed, statement, save_consent, force, reason, gate_report = gate_view.build_publish()
        token = gr.Textbox(label="Hugging Face token (not stored; empty: the HF_TOKEN secret)", type="password",
                           elem_id="personas-token")
        with gr.Row():
            repo = gr.Textbox(label="Push to repo (USER/REPO)", elem_id="personas-repo")
            private = gr.Checkbox(label="private")
            push_button = gr.Button("Push", elem_id="personas-push")
        with gr.Row():
            pull_repo = gr.Textbox(label="Pull repo (USER/REPO)", elem_id="personas-pull-repo")
            pull_name = gr.Textbox(label="Name (optional)", elem_id="personas-pull-name")
            pull_base = gr.Textbox(label="Base model here (optional)", elem_id="personas-pull-base")
            pull_button = gr.Button("Pull", elem_id="personas-pull")

    listing = [grid, broken, selected, report, preview, version, *side_by_side]
    refresh_button.click(refresh, [selected, version], listing)
    selected.change(details, [selected, version], [report, preview, version, *side_by_side])
    selected.change(gate_view.consent_line, selected, consent)
    selected.change(gate_view.gate_report, selected, gate_report)
    save_consent.click(gate_view.save_consent, [selected, agreed, statement], consent)
    outputs = [status, *listing]
    rename_button.click(rename, [selected, new_name], outputs)
    delete_button.click(delete, [selected, confirm], outputs)
    restore_button.click(restore, [selected, version], outputs)
    delete_version_button.click(delete_version, [selected, version], outputs)
    export_button.click(export, [selected, version, force, reason], [exported, status, gate_report])
    card_button.click(export_card, selected, exported)
    import_button.click(import_file, [upload, import_name, import_base, import_overwrite], outputs)
    push_button.click(push, [selected, repo, private, token, force, reason], [status, gate_report, *listing])
    pull_button.click(pull, [pull_repo, pull_name, pull_base, token], outputs)
    return selected, version, listing
