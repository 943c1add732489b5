"""Consent and provenance: who agreed to this persona, and when.

Training asks for a consent statement (a tick box and a line of text in the Train tab; `--consent TEXT` on the
command line); it is stored in `persona.json` as

    "consent": {"statement": "Koume agreed in person on 2026-11-30 to a public persona", "recorded_at": "2026-12-02T13:00:00Z"}

and written into the model card. `push` refuses a persona without one; a persona trained before this, pulled or
imported gets one with `python -m studio consent NAME "STATEMENT"` (or the Personas tab's Hub section).
"""

from __future__ import annotations

from studio.errors import InputError, PersonaError
from studio.files import utc_now
from studio.persona.registry import Persona, PersonaRegistry

MIN_CHARS = 8
EXAMPLE = '"Koume agreed in person on 2026-11-30 to a public persona of her posts"'


def make_consent(statement: str, agreed: bool = True) -> dict:
    """The consent record for a statement; refused when it is empty, too short to say who and when, or not ticked."""
    statement = " ".join((statement or "").split())
    if not agreed:
        raise InputError("Tick 'the person whose posts these are agreed' before recording their consent.")
    if len(statement) < MIN_CHARS:
        raise InputError(f"The consent statement {statement!r} is too short: say who agreed and when, e.g. {EXAMPLE}.")
    return {"statement": statement, "recorded_at": utc_now()}


def consent_of(persona: Persona) -> dict | None:
    consent = persona.extra.get("consent")
    return consent if isinstance(consent, dict) and str(consent.get("statement") or "").strip() else None


def how_to_consent(slug: str) -> str:
    return (f'Record who agreed and when: python -m studio consent {slug} "STATEMENT" (e.g. {EXAMPLE}), '
            "or in the Personas tab's Hub section; new trainings ask for it (Train tab, or train --consent).")


def require_consent(persona: Persona, action: str = "push") -> dict:
    """The persona's consent record, or a PersonaError that says how to record one."""
    consent = consent_of(persona)
    if consent is None:
        raise PersonaError(f"Refusing to {action} {persona.slug!r}: it has no consent statement (nobody has said that "
                           f"the person whose posts trained it agreed to its publication). {how_to_consent(persona.base_slug)}")
    return consent


def record_consent(name: str, statement: str, agreed: bool = True, registry: PersonaRegistry | None = None) -> Persona:
    """Store a consent statement in a persona's manifest (or one version's, `NAME@vN`); the caller rewrites its card."""
    registry = registry or PersonaRegistry()
    return registry.update(name, consent=make_consent(statement, agreed))


def consent_markdown(persona: Persona) -> str:
    consent = consent_of(persona)
    if consent is None:
        return ("## Consent\n\nNo consent statement was recorded for this persona: do not publish it until the person "
                "whose posts trained it has agreed.")
    return (f"## Consent\n\nConsent statement (recorded {consent.get('recorded_at', 'at training')}): "
            f"*{consent['statement']}*")
