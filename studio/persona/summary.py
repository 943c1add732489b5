"""What the Personas tab and the CLI show about a persona: a table row and a readable report."""

from __future__ import annotations

from studio.clean.sources import kinds_line
from studio.persona.registry import Persona


def adapter_bytes(persona: Persona) -> int:
    folder = persona.adapter_dir
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) if folder.is_dir() else 0


def evaluation_summary(persona: Persona) -> str:
    """The one-line summary another tool (studio/evaluate.py) may store under `evaluation.summary`."""
    evaluation = persona.extra.get("evaluation")
    summary = evaluation.get("summary") if isinstance(evaluation, dict) else None
    return summary if isinstance(summary, str) else ""


def persona_row(persona: Persona) -> dict:
    metrics = persona.metrics
    validation = metrics.get("best_eval_loss")
    if validation is None and metrics.get("eval_history"):
        validation = metrics["eval_history"][-1][1]
    return {
        "name": persona.name, "slug": persona.slug, "version": persona.version,
        "base_model": persona.base_model.get("id"), "posts": persona.data.get("kept"),
        "steps": metrics.get("steps"), "final_loss": metrics.get("final_loss"), "validation_loss": validation,
        "evaluation": evaluation_summary(persona), "adapter_mb": round(adapter_bytes(persona) / 2**20, 2),
        "created_at": persona.created_at, "updated_at": persona.updated_at,
        "hub_repo": (persona.extra.get("hub") or {}).get("repo"),
    }


def describe(persona: Persona, full_evaluation: bool = True) -> str:
    """A Markdown report: identity, data, settings, metrics, evaluation."""
    row, data, stats = persona_row(persona), persona.data, persona.data.get("stats") or {}
    lines = [f"## {persona.name} ({persona.slug}, v{persona.version})", "",
             f"- Base model: {row['base_model']}  ",
             f"- Created {persona.created_at}, updated {persona.updated_at}, Persona Studio {persona.studio_version}",
             f"- Adapter: {row['adapter_mb']} MB" + (f", on the Hub: {row['hub_repo']}" if row["hub_repo"] else ""),
             f"- System prompt: {persona.system_prompt}", "", "### Data",
             f"- {data.get('loaded', '?')} posts loaded, {data.get('kept', '?')} kept"
             + (" (removed: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in (data.get("removed") or {}).items()) + ")"
                if data.get("removed") else "")]
    if stats.get("date_range"):
        lines.append(f"- Dates: {stats['date_range'][0]} to {stats['date_range'][1]}")
    if stats.get("languages"):
        lines.append("- Languages: " + ", ".join(f"{k} {v}" for k, v in stats["languages"].items()))
    if kinds_line(data.get("sources")):
        lines.append(f"- Sources: {kinds_line(data.get('sources'))}")
    if data.get("split"):
        lines.append(f"- Split: {data['split'].get('train')} train / {data['split'].get('validation')} validation")
    train = persona.train
    lines += ["", "### Training",
              "- " + ", ".join(f"{k.replace('_', ' ')} {train[k]}" for k in
                               ("method", "max_steps", "learning_rate", "rank", "alpha", "batch_size", "max_length")
                               if k in train),
              f"- Steps {row['steps']}, final loss {row['final_loss']}, validation loss {row['validation_loss']}"
              + (f" (best at step {persona.metrics.get('best_step')})" if persona.metrics.get("best_step") else "")
              + (f", {persona.metrics.get('seconds')} s on {persona.metrics.get('device')}" if persona.metrics.get("seconds") else "")]
    evaluation = persona.extra.get("evaluation")
    if isinstance(evaluation, dict):
        lines += ["", "### Evaluation", row["evaluation"]]
        if not full_evaluation:  # the Personas tab shows the whole evaluation in its own section
            return "\n".join(lines)
        if isinstance(evaluation.get("markdown"), str):
            lines += ["", evaluation["markdown"]]
        samples = evaluation.get("samples")
        if isinstance(samples, list) and samples:
            lines += ["", "### Sample replies"] + [f"- {s.get('prompt', '')} → {s.get('reply', '')}" if isinstance(s, dict)
                                                  else f"- {s}" for s in samples[:5]]
    return "\n".join(lines)
