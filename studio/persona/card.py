"""The model card (README.md) of a persona, built with huggingface_hub's ModelCard/ModelCardData.

It is written at train time and on demand (`python -m studio card NAME`), and it is what goes to
the Hub: YAML metadata (base_model, library_name: peft, tags, licence of the base model, languages),
the data report (counts, never raw posts unless asked), training settings, evaluation figures when
another tool stored them in `persona.json["evaluation"]`, intended use and a loading snippet.
"""

from __future__ import annotations

from pathlib import Path

from studio.clean.sources import kinds_line
from studio.files import write_text
from studio.persona.consent import consent_markdown
from studio.persona.gate import gate_markdown
from studio.persona.registry import Persona, PersonaRegistry

CARD = "README.md"
TAGS = ["lora", "peft", "persona-studio", "text-generation", "persona"]
# Licences of base models the studio knows offline (the bundled one and its family).
KNOWN_LICENSES = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": "apache-2.0",
    "HuggingFaceTB/SmolLM2-360M-Instruct": "apache-2.0",
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": "apache-2.0",
}
SETTINGS = ("method", "max_steps", "epochs", "learning_rate", "scheduler", "rank", "alpha", "dropout",
            "target_modules", "batch_size", "grad_accum", "max_length", "seed")
LIMITS = ("This adapter imitates a real person's writing style. **Do not present its output as that "
          "person's words**, do not use it to impersonate, harass or deceive, and publish it only with the "
          "consent of the person whose posts trained it. It is a small model: it invents facts, repeats "
          "phrases from its training posts, and knows nothing after the posts it learned from.")


def base_license(base_model: dict) -> str:
    """The base model's licence: from the manifest, the known table, the local folder's model card, else 'other'."""
    if base_model.get("license"):
        return str(base_model["license"])
    if base_model.get("id") in KNOWN_LICENSES:
        return KNOWN_LICENSES[base_model["id"]]
    spec = base_model.get("spec") or ""
    readme = Path(spec).expanduser() / CARD if spec else None
    if readme is not None and readme.is_file():
        from huggingface_hub import ModelCard

        try:
            license_ = ModelCard.load(readme).data.license
        except Exception:  # a malformed card of someone else's model: fall back, do not fail the card
            license_ = None
        if license_:
            return str(license_)
    return "other"


def base_model_id(persona: Persona) -> str:
    return persona.base_model.get("id") or persona.base_model.get("spec") or "unknown"


def languages(persona: Persona) -> list[str]:
    langs = (persona.data.get("stats") or {}).get("languages") or {}
    return [lang for lang in langs if isinstance(lang, str) and lang.isalpha() and 2 <= len(lang) <= 3]


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None or value == "" else str(value)


def _data_section(persona: Persona, include_examples: bool) -> str:
    data, stats = persona.data, persona.data.get("stats") or {}
    lines = ["## Training data", "",
             f"Posts loaded: **{_fmt(data.get('loaded'))}**, kept after cleaning: **{_fmt(data.get('kept'))}**.", ""]
    steps = data.get("steps") or {}
    rows = [f"| {name.replace('_', ' ')} | {s.get('removed', 0)} | {s.get('changed', 0)} |"
            for name, s in steps.items() if isinstance(s, dict) and (s.get("removed") or s.get("changed"))]
    if rows:
        lines += ["| cleaning step | removed | changed |", "|---|---:|---:|", *rows, ""]
    if stats.get("date_range"):
        lines.append(f"- Date range: {stats['date_range'][0]} to {stats['date_range'][1]}")
    if stats.get("languages"):
        lines.append("- Languages: " + ", ".join(f"{k} ({v})" for k, v in stats["languages"].items()))
    if kinds_line(data.get("sources")):
        lines.append(f"- Sources (posts kept of loaded, by kind of export): {kinds_line(data.get('sources'))}")
    split = data.get("split") or {}
    if split:
        lines.append(f"- Split: {split.get('train')} posts for training, {split.get('validation')} for validation")
    privacy = {k: v for k, v in (data.get("privacy") or {}).items() if v}
    if privacy:
        lines.append("- Scrubbed: " + ", ".join(f"{v} {k}" for k, v in privacy.items()))
    if cleaning_applied(data.get("config") or {}):
        lines.append(f"- Cleaning applied: {cleaning_applied(data['config'])}")
    if data.get("forgotten"):
        lines.append(f"- Posts removed at the owner's request (forget) since the first training: {data['forgotten'].get('posts')}")
    if include_examples:
        shown = [ex for s in steps.values() if isinstance(s, dict) for ex in s.get("examples", [])][:10]
        if shown:
            lines += ["", "Examples of what cleaning removed or changed (published with the owner's consent):", ""]
            lines += [f"- {ex.get('text') or ex.get('after', '')}" for ex in shown]
    else:
        lines += ["", "No raw posts are included in this card."]
    return "\n".join(lines)


def cleaning_applied(config: dict) -> str:
    """The cleaning settings as one line (the listed names are counted, never shown)."""
    if not config:
        return ""
    parts = [f"retweets {'dropped' if config.get('drop_retweets', True) else 'kept'}",
             f"replies: {config.get('replies', 'strip')}", f"links: {config.get('urls', 'remove')}",
             f"@handles: {config.get('mentions', 'mask')}"]
    scrubbed = [kind for kind, key in (("e-mails", "scrub_emails"), ("phone numbers", "scrub_phones"),
                                       ("street addresses", "scrub_addresses")) if config.get(key)]
    if config.get("scrub_names"):
        scrubbed.append(f"{len(config['scrub_names'])} listed name(s)")
    parts.append("scrubbed: " + (", ".join(scrubbed) or "nothing"))
    if config.get("near_duplicates", True):
        parts.append("near-duplicates dropped")
    if config.get("languages"):
        parts.append("languages kept: " + ", ".join(config["languages"]))
    return "; ".join(parts)


def _training_section(persona: Persona) -> str:
    train, metrics = persona.train, persona.metrics
    rows = [(key, train[key]) for key in SETTINGS if key in train]
    rows += [(key, metrics[key]) for key in ("steps", "final_loss", "best_eval_loss", "best_step", "seconds", "device")
             if metrics.get(key) is not None]
    lines = ["## Training", "", "| setting | value |", "|---|---|"]
    lines += [f"| {key.replace('_', ' ')} | {_fmt(value)} |" for key, value in rows]
    return "\n".join(lines)


def _evaluation_section(persona: Persona) -> str:
    """The evaluation contract: persona.json may hold `evaluation` with a one-line `summary` and a `markdown` section."""
    evaluation = persona.extra.get("evaluation")
    if not isinstance(evaluation, dict):
        return ""
    parts = ["## Evaluation", ""]
    if isinstance(evaluation.get("summary"), str):
        parts.append(evaluation["summary"])
    if isinstance(evaluation.get("markdown"), str):
        parts += ["", evaluation["markdown"].strip()]
    return "\n".join(parts) if len(parts) > 2 else ""


def _usage_section(persona: Persona, repo_id: str | None) -> str:
    base = base_model_id(persona)
    adapter = repo_id or "PATH/TO/THIS/FOLDER/adapter"
    prompt = persona.system_prompt.replace('"', '\\"')
    return f"""## How to use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel
tokenizer = AutoTokenizer.from_pretrained("{base}")
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("{base}"), "{adapter}")
print(tokenizer.decode(model.generate(**tokenizer.apply_chat_template([{{"role": "system", "content": "{prompt}"}}, {{"role": "user", "content": "Hi!"}}], add_generation_prompt=True, return_tensors="pt", return_dict=True), max_new_tokens=60)[0]))
```

Always pass the persona's system prompt (above): it is what the adapter was trained with."""


def build_card(persona: Persona, repo_id: str | None = None, include_examples: bool = False):
    """A `huggingface_hub.ModelCard` for the persona (`repo_id`: where it is or will be on the Hub)."""
    from huggingface_hub import ModelCard, ModelCardData

    repo_id = repo_id or (persona.extra.get("hub") or {}).get("repo")
    data = ModelCardData(
        base_model=base_model_id(persona), library_name="peft", license=base_license(persona.base_model),
        tags=list(TAGS), language=languages(persona) or None, pipeline_tag="text-generation",
    )
    kind = persona.data.get("source") or "social-media posts"
    body = "\n\n".join(part for part in [
        f"# {persona.name}: a Persona Studio adapter",
        f"A LoRA adapter for [{base_model_id(persona)}](https://huggingface.co/{base_model_id(persona)}) that imitates "
        f"the writing style of **{persona.name}**, learned from {_fmt(persona.data.get('kept'))} of their {kind}. "
        f"Made with Persona Studio {persona.studio_version} (version v{persona.version}, trained {persona.created_at}).",
        f"System prompt: `{persona.system_prompt}`",
        _data_section(persona, include_examples),
        _training_section(persona),
        _evaluation_section(persona),
        consent_markdown(persona),
        gate_markdown(persona),
        "## Intended use and limits\n\n" + LIMITS,
        _usage_section(persona, repo_id),
    ] if part)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}\n")


def write_card(persona: Persona, registry: PersonaRegistry | None = None, **kwargs) -> Path:
    """Write README.md into the persona's folder atomically, under the registry's lock."""
    registry = registry or PersonaRegistry()
    text = str(build_card(persona, **kwargs))
    target = persona.path / CARD
    with registry.lock():
        write_text(target, text)
    return target
