"""What a server serves: the registry's personas (and their earlier versions, `NAME@vN`) on its base model, as LoRA
modules named by slug, each with a stamp that changes when its weights do (retrained, pulled, restored)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio.models import BaseModelRef
from studio.persona.registry import Persona, PersonaRegistry

LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM's --max-lora-rank accepts
MIN_RANK = 16  # room for a persona trained while the server runs at the default rank (8) or twice it


@dataclass(frozen=True)
class Module:
    """One LoRA module of the server: its model name, the adapter folder, and what identifies its weights."""

    name: str
    path: Path
    stamp: str
    rank: int


def _module(persona: Persona) -> Module | None:
    config, weights = persona.adapter_dir / "adapter_config.json", persona.adapter_dir / "adapter_model.safetensors"
    try:
        rank = int(json.loads(config.read_text()).get("r", 8))
        stat = weights.stat()
    except (OSError, ValueError):
        return None  # no adapter (or a half-written one): nothing to serve
    return Module(persona.slug, persona.adapter_dir.resolve(), f"{stat.st_mtime_ns}-{stat.st_size}", rank)


def on_base(persona: Persona, ref: BaseModelRef) -> bool:
    """Whether the persona was trained on the server's base model (others cannot run on it)."""
    return (persona.base_model.get("id"), persona.base_model.get("revision")) == (ref.id, ref.revision)


def registry_modules(registry: PersonaRegistry, ref: BaseModelRef, only: list[str] | None = None) -> dict[str, Module]:
    """Every persona on `ref` (or only those named, with their versions) and its earlier versions, by model name."""
    wanted = {name.strip().lower() for name in only or []}
    found: dict[str, Module] = {}
    for persona in registry.list():
        if wanted and persona.slug not in wanted and persona.name.lower() not in wanted:
            continue
        for p in [persona, *registry.versions(persona.slug)[1:]]:
            module = _module(p) if on_base(p, ref) else None
            if module is not None:
                found[module.name] = module
    return found


def skipped(registry: PersonaRegistry, ref: BaseModelRef) -> list[str]:
    """Personas of the registry that this server cannot serve (trained on another base), for the start-up message."""
    return [f"{p.slug} ({p.base_model.get('id')})" for p in registry.list() if not on_base(p, ref)]


def max_rank(modules, floor: int = MIN_RANK) -> int:
    """vLLM's --max-lora-rank: the largest adapter's rank (at least `floor`), rounded up to a rank vLLM accepts."""
    need = max([floor, *(m.rank for m in modules)])
    return next((r for r in LORA_RANKS if r >= need), LORA_RANKS[-1])
