"""The Personas tab's publish gate, consent and forget controls.

- Hub section: the persona's consent statement (recorded here when it has none), and the gate's 'publish anyway'
  tick box with its reason; `gate_report` shows the gate's figures and the offending replies after a check.
- Data section: the persona's posts as a table (ref, id, split, text) with a search box; forget the posts given
  by ref or id, or containing a text: the new version trains as a job (the Train tab's runs list shows it), then
  the old versions containing them are deleted when ticked, and the gate checks the new one.
"""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from studio.errors import PersonaError
from studio.persona.card import write_card
from studio.persona.consent import consent_of, record_consent
from studio.persona.gate import gate_markdown
from studio.persona.registry import PersonaRegistry
from studio.training import forget as forgetting
from studio.training import jobs
from studio.ui.common import user_errors

DATA_COLUMNS = ["ref", "id", "split", "text"]
POLL_SECONDS = 1.0


def gate_report(slug: str | None) -> str:
    """The gate's section of the card, with the offending samples (shown here, to the owner; never pushed)."""
    if not slug:
        return ""
    try:
        persona = PersonaRegistry().get(slug)
    except PersonaError:
        return ""
    text = gate_markdown(persona)
    offending = (persona.extra.get("gate") or {}).get("offending") or []
    if offending:
        text += "\n\n**Offending samples**\n\n" + "\n".join(
            f"- **{o['kind']}** ({o.get('where', '')}): {o['text'][:200]!r}"
            + (f" — **{o['value']}**: {o['why']}" if o["kind"] == "private" else f" — {o['why']}")
            + (f"<br>training post: {o['post'][:200]!r}" if o.get("post") else "") for o in offending)
    return text


def consent_line(slug: str | None) -> str:
    if not slug:
        return ""
    try:
        consent = consent_of(PersonaRegistry().get(slug))
    except PersonaError:
        return ""
    if consent is None:
        return "**No consent statement**: push is refused until one is recorded below."
    return f"Consent: *{consent['statement']}* (recorded {consent.get('recorded_at')})"


@user_errors
def save_consent(slug: str | None, agreed: bool, statement: str) -> str:
    if not slug:
        raise PersonaError("Choose a persona first.")
    persona = record_consent(slug, statement, agreed)
    write_card(persona)
    gr.Info(f"Consent recorded for {slug}.")
    return consent_line(slug)


def data_table(slug: str | None, search: str = "") -> pd.DataFrame:
    """The persona's posts (training and validation), filtered by `search` (case ignored)."""
    if not slug:
        return pd.DataFrame(columns=DATA_COLUMNS)
    try:
        rows = forgetting.data_rows(PersonaRegistry().get(slug))
    except PersonaError:
        rows = []
    needle = (search or "").strip().casefold()
    rows = [r for r in rows if not needle or needle in r["text"].casefold()]
    return pd.DataFrame([[r["ref"], r.get("id") or "", r["split"], r["text"]] for r in rows], columns=DATA_COLUMNS)


@user_errors
def forget(slug: str | None, refs: str, matching: str, delete_old: bool):
    """Plan, retrain as a job (waiting on its status), delete old versions when asked, then the gate."""
    from studio.evaluation.gate import run_gate

    if not slug:
        raise PersonaError("Choose a persona first.")
    ids = [part.strip() for part in (refs or "").replace("\n", ",").split(",") if part.strip()]
    plan = forgetting.plan_forget(slug, ids, matching or None)
    job = jobs.launch(jobs.create_job(**forgetting.job_request(plan)))
    yield f"Forgetting {len(plan.removed)} post(s): training the new version of {slug} (job {job.slug})...", ""
    while job.status()["status"] in jobs.ACTIVE:
        time.sleep(POLL_SECONDS)
    status = job.status()
    if status["status"] != "done":
        raise PersonaError(f"Retraining without the posts {status['status']}: {status.get('message', '')}. "
                           "Nothing was deleted; the persona is unchanged.")
    persona = forgetting.mark_forgotten(plan)
    deleted = forgetting.delete_old_versions(plan) if delete_old else []
    yield f"Trained v{persona.version} without them; the publish gate is checking it...", ""
    record = run_gate(slug, forgotten=plan.texts)
    left = [p.slug for p in forgetting.versions_containing(plan)]
    message = (f"Forgot {len(plan.removed)} post(s): {slug} is now v{persona.version}. "
               + (f"Deleted {', '.join(deleted)}. " if deleted else "")
               + (f"Old versions still containing them: {', '.join(left)}. " if left else "")
               + ("The gate passed: the removed text is not reproduced." if record["passed"]
                  else "The gate refused the new version: " + "; ".join(record["reasons"])))
    yield message, gate_report(slug)


def build_publish() -> tuple:
    """Consent line and form, the 'publish anyway' tick with its reason, and the gate's report."""
    consent = gr.Markdown(elem_id="gate-consent")
    with gr.Row():
        agreed = gr.Checkbox(label="The person whose posts these are agreed to publishing it", elem_id="gate-consent-agreed")
        statement = gr.Textbox(label="Consent statement: who agreed, and when", scale=3, elem_id="gate-consent-text",
                               placeholder="e.g. Koume agreed in person on 2026-11-30 to a public persona")
        save = gr.Button("Record consent", elem_id="gate-consent-save")
    with gr.Row():
        force = gr.Checkbox(label="Publish anyway if the publish gate refuses (recorded in the model card)",
                            elem_id="gate-force")
        reason = gr.Textbox(label="Reason for publishing anyway", scale=3, elem_id="gate-reason")
    report = gr.Markdown(elem_id="gate-report")
    return consent, agreed, statement, save, force, reason, report


def build_forget(selected: gr.Dropdown) -> None:
    """The Data section: the posts table and the forget form."""
    search = gr.Textbox(label="Search their posts", elem_id="forget-search")
    table = gr.Dataframe(headers=DATA_COLUMNS, interactive=False, wrap=True, max_height=300, elem_id="forget-table")
    with gr.Row():
        refs = gr.Textbox(label="Posts to forget: refs or ids, comma-separated (e.g. train:3)", scale=2, elem_id="forget-refs")
        matching = gr.Textbox(label="...or every post containing", scale=2, elem_id="forget-matching")
        delete_old = gr.Checkbox(label="also delete the old versions that contain them", elem_id="forget-delete-old")
        button = gr.Button("Forget and retrain", variant="stop", elem_id="forget-button")
    status = gr.Markdown(elem_id="forget-status")
    report = gr.Markdown(elem_id="forget-gate")
    gr.on([selected.change, search.submit], data_table, [selected, search], table)
    button.click(forget, [selected, refs, matching, delete_old], [status, report]).then(
        data_table, [selected, search], table)
