"""Chat targets: what a pane can talk to ('base', a persona, `NAME@vN`), the engine that answers each,
and one whole reply (the CLI's `chat`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from studio.chat.config import GenerationConfig
from studio.chat.engine import BASE, BASE_LABEL, ChatEngine, engine_loaded, get_engine
from studio.chat.remote import LOCAL, RemoteEngine, engine_setting, get_remote
from studio.errors import PersonaError
from studio.persona.registry import Persona, PersonaRegistry


def _lookup(target: str, registry: PersonaRegistry | None) -> tuple[str | None, Persona | None]:
    """(base model spec, persona) of a target; None, None for the default base model."""
    if target.strip().lower() in (BASE, BASE_LABEL.lower()):
        return None, None
    persona = (registry or PersonaRegistry()).get(target)
    return persona.base_model.get("spec"), persona


def resolve_target(target: str, registry: PersonaRegistry | None = None,
                   engine: str | None = None) -> tuple[ChatEngine | RemoteEngine, Persona | None]:
    """'base' (or 'Base model') -> the default base model; anything else -> a persona on its own base.
    `engine`: 'local' (this process) or a server URL (studio.chat.remote); default $STUDIO_CHAT_ENGINE."""
    spec, persona = _lookup(target, registry)
    where = engine_setting(engine)
    return (get_engine(spec) if where == LOCAL else get_remote(where)), persona


def target_ready(target: str, registry: PersonaRegistry | None = None, engine: str | None = None) -> bool:
    """Whether the engine that answers `target` is loaded already (else its first reply waits for the model
    load); loads nothing. An unknown target raises PersonaError, as resolve_target does. A server is always ready."""
    spec = _lookup(target, registry)[0]
    return engine_setting(engine) != LOCAL or engine_loaded(spec)


@dataclass
class Reply:
    target: str
    text: str
    seconds: float

    def to_json(self) -> dict:
        return {"target": self.target, "reply": self.text, "seconds": round(self.seconds, 3)}


def reply(target: str, message: str, system_prompt: str | None = None, settings: GenerationConfig | None = None,
          registry: PersonaRegistry | None = None, engine: str | None = None) -> Reply:
    """One whole reply (the CLI's `chat`)."""
    if not message.strip():
        raise PersonaError("The message is empty: type something to send.")
    engine, persona = resolve_target(target, registry, engine)
    started = time.perf_counter()
    text = ""
    for text in engine.stream(persona, message, system_prompt, settings=settings):
        pass
    return Reply(target=persona.slug if persona else BASE, text=text, seconds=time.perf_counter() - started)


def chat_targets(registry: PersonaRegistry | None = None) -> list[tuple[str, str]]:
    """Everything a pane can talk to, as (label, value): the base model, then every persona in the registry
    and its earlier versions (`NAME@vN`, to compare with). The one place that lists targets; any value here
    is accepted by `resolve_target`."""
    registry = registry or PersonaRegistry()
    choices = [(BASE_LABEL, BASE)]
    for p in registry.list():
        choices.append((f"{p.name} ({p.slug})", p.slug))
        choices += [(f"{p.name} v{v.version} ({v.slug})", v.slug) for v in registry.versions(p.slug)[1:]]
    return choices
