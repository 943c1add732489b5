"""Forget a post: remove posts from a persona's data, retrain from its saved settings into a new version, delete
the old versions that contain them (when asked), and let the publish gate check that the removed text is not
reproduced.

    python -m studio forget NAME --post ID [--post ID2 ...] [--matching TEXT] [--delete-old-versions]

A post is named by its id (the export's id, or `train:N` / `validation:N`, its line in data/<split>.jsonl,
counted from 1, for posts without one; the Personas tab's data table shows both) or found by `--matching TEXT`
(case-insensitive substring). The new version is trained on the posts left, with the persona's own training and
cleaning settings, system prompt and consent; its manifest counts the forgotten posts (`data.forgotten`), never
their text. The removed text lives only in memory for the gate's check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.clean import CleanConfig, CleanReport
from studio.errors import InputError, PersonaError
from studio.files import read_jsonl, utc_now
from studio.ingest import Post
from studio.persona.registry import Persona, PersonaRegistry, parse_ref
from studio.training.config import TrainConfig

SPLITS = ("train", "validation")


@dataclass
class ForgetPlan:
    """What `forget` removes from a persona, and what it trains the new version on."""

    persona: Persona
    removed: list[dict] = field(default_factory=list)  # the rows removed, with their "ref" (split:N) added
    kept: dict[str, list[dict]] = field(default_factory=dict)  # split -> rows left

    @property
    def texts(self) -> list[str]:
        return [row["text"] for row in self.removed]

    def posts(self) -> list[Post]:
        """The posts left, training split first (the new split is drawn again with the saved seed)."""
        return [Post.from_dict(row) for split in SPLITS for row in self.kept.get(split, [])]

    def report(self) -> CleanReport:
        """The saved cleaning report, with the kept count lowered and the forgotten posts counted (no text)."""
        report = CleanReport.from_dict(self.persona.data)
        report.kept = sum(len(rows) for rows in self.kept.values())
        return report


def data_rows(persona: Persona) -> list[dict]:
    """Every post of the persona's data with its split and ref (`train:N`), for the data table and --post."""
    rows = []
    for split in SPLITS:
        for n, row in enumerate(read_jsonl(persona.path / "data" / f"{split}.jsonl"), 1):
            rows.append({**row, "split": split, "ref": f"{split}:{n}"})
    return rows


def plan_forget(name: str, post_ids: list[str] | None = None, matching: str | None = None,
                registry: PersonaRegistry | None = None) -> ForgetPlan:
    """Which posts go: those with the given ids or refs, and those containing `matching`; refused when none match."""
    registry = registry or PersonaRegistry()
    if parse_ref(name)[1] is not None:
        raise PersonaError(f"Forget works on the current version: name the persona ({parse_ref(name)[0]}), not {name}. "
                           "The old versions that contain the post can be deleted in the same step (--delete-old-versions).")
    ids = {str(i).strip() for i in post_ids or [] if str(i).strip()}
    needle = (matching or "").strip().casefold()
    if not ids and not needle:
        raise InputError("Say which posts to forget: --post ID (repeatable) or --matching TEXT.")
    persona = registry.get(name)
    plan = ForgetPlan(persona, kept={split: [] for split in SPLITS})
    found = set()
    for row in data_rows(persona):
        hit = {str(row.get("id")), row["ref"]} & ids
        if hit or (needle and needle in row["text"].casefold()):
            found |= hit
            plan.removed.append(row)
        else:
            plan.kept[row["split"]].append({k: v for k, v in row.items() if k not in ("split", "ref")})
    missing = sorted(ids - found)
    if missing:
        raise InputError(f"No post with id {', '.join(missing)} in {persona.slug!r}. See the ids in the Personas tab's "
                         f"data table, or use --matching TEXT.")
    if not plan.removed:
        raise InputError(f"No post of {persona.slug!r} contains {matching!r}.")
    return plan


def retrain(plan: ForgetPlan, registry: PersonaRegistry | None = None, progress=None):
    """Train the new version in this process (the CLI; the UI runs the same request as a job). Returns TrainResult."""
    from studio.training.run import train_persona

    persona = plan.persona
    result = train_persona(plan.posts(), persona.name, TrainConfig.from_dict(persona.train), persona.system_prompt,
                           registry=registry, progress=progress, overwrite=True,
                           clean=CleanConfig.from_dict(persona.data.get("config")), report=plan.report())
    mark_forgotten(plan, registry)
    return result


def job_request(plan: ForgetPlan) -> dict:
    """The arguments of studio.training.jobs.create_job for the new version."""
    persona = plan.persona
    return {"posts": plan.posts(), "name": persona.name, "config": TrainConfig.from_dict(persona.train),
            "clean": CleanConfig.from_dict(persona.data.get("config")), "report": plan.report(),
            "system_prompt": persona.system_prompt, "overwrite": True}


def mark_forgotten(plan: ForgetPlan, registry: PersonaRegistry | None = None) -> Persona:
    """Count the forgotten posts in the new version's manifest (data.forgotten), without their text."""
    registry = registry or PersonaRegistry()
    current = registry.get(plan.persona.base_slug)
    before = (plan.persona.data.get("forgotten") or {}).get("posts", 0)
    data = {**current.data, "forgotten": {"posts": before + len(plan.removed), "at": utc_now()}}
    return registry.update(current.slug, data=data)


def versions_containing(plan: ForgetPlan, registry: PersonaRegistry | None = None) -> list[Persona]:
    """The earlier versions whose data holds a removed post (their adapters may have learnt it)."""
    registry = registry or PersonaRegistry()
    texts = set(plan.texts)
    return [p for p in registry.versions(plan.persona.base_slug)[1:]
            if texts & {row["text"] for row in data_rows(p)}]


def delete_old_versions(plan: ForgetPlan, registry: PersonaRegistry | None = None) -> list[str]:
    """Delete every earlier version that contains a removed post; returns their refs."""
    registry = registry or PersonaRegistry()
    deleted = []
    for version in versions_containing(plan, registry):
        registry.delete(version.slug)
        deleted.append(version.slug)
    return deleted
