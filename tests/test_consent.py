"""Consent and provenance: training stores the consent statement in persona.json and the card; push refuses a
persona without one, with a message that says how to give one; the card's data section states sources, cleaning
and the gate's figures; what the cleaning scrubbed is kept only as salted hashes, which the gate recognises."""

from __future__ import annotations

import json

import pytest

from studio.clean import CleanConfig, clean_posts
from studio.clean.scrub_log import digest, private_hits
from studio.errors import ConfigError, InputError, PersonaError
from studio.ingest import Post
from studio.persona.registry import PersonaRegistry
from studio.training.config import TrainConfig
from tests.persona_fixtures import CONSENT
from tests.test_hub import ALICE, hub  # noqa: F401


def test_training_stores_consent_in_the_manifest_and_the_card(tiny_persona):  # noqa: F811
    assert tiny_persona.extra["consent"]["statement"] == CONSENT and tiny_persona.extra["consent"]["recorded_at"]
    card = (tiny_persona.path / "README.md").read_text()
    assert "## Consent" in card and CONSENT in card
    assert "Cleaning applied: retweets dropped; replies: strip; links: remove; @handles: mask; scrubbed: e-mails, phone numbers" in card
    assert "## Publish gate" in card and "**passed**" in card


def test_bad_consent_statements_are_refused():
    with pytest.raises(ConfigError, match="too short: say who agreed and when"):
        TrainConfig(consent="ok")
    from studio.persona.consent import make_consent

    with pytest.raises(InputError, match="Tick"):
        make_consent("Koume agreed on 2026-11-30", agreed=False)
    with pytest.raises(InputError, match="too short"):
        make_consent("  ", agreed=True)


def test_push_without_consent_is_refused_with_a_clear_message(hub, tiny_persona, capsys):  # noqa: F811
    from studio.cli.main import main
    from studio.evaluation.gate import push_gated
    from studio.persona.hub import push

    registry = PersonaRegistry()
    manifest = json.loads((tiny_persona.path / "persona.json").read_text())
    manifest.pop("consent")
    (tiny_persona.path / "persona.json").write_text(json.dumps(manifest))
    for attempt in (lambda: push("tiny", "alice/tiny", token=ALICE), lambda: push_gated("tiny", "alice/tiny", token=ALICE)):
        with pytest.raises(PersonaError, match=r"Refusing to push 'tiny': it has no consent statement.*python -m studio consent tiny"):
            attempt()
    assert "consent" not in registry.get("tiny").extra  # nothing pushed, nothing changed
    assert main(["consent", "tiny", "Tiny agreed by e-mail on 2026-12-02"]) == 0
    assert "Tiny agreed by e-mail on 2026-12-02" in (tiny_persona.path / "README.md").read_text()
    assert push_gated("tiny", "alice/tiny", token=ALICE).endswith("alice/tiny")
    capsys.readouterr()


def test_scrubbed_strings_are_kept_as_salted_hashes_and_recognised():
    posts = [Post("Mail me at jane.doe@example.com or call (555) 014-2367, love to Tomoko", lang="en"),
             Post("Another ordinary post about the weather today", lang="en")]
    kept, report = clean_posts(posts, CleanConfig(scrub_names=["Tomoko"]))
    assert "<email>" in kept[0].text and "<phone>" in kept[0].text and "<name>" in kept[0].text
    log = report.to_dict()["scrubbed"]
    text = json.dumps(log)
    assert "jane" not in text and "014" not in text and "Tomoko" not in text
    assert digest(log["salt"], "phone", "555 014 2367") in log["hashes"]["phone"]
    reply = "ring 555.014.2367 and greet tomoko for me"  # written differently, and no name list given
    hits = {(h["kind"], h["why"]) for h in private_hits(reply, log)}
    assert ("phone", "a phone the cleaning scrubbed from their posts") in hits
    assert ("name", "a name the cleaning scrubbed from their posts") in hits
    assert private_hits("a quiet day with nothing in it", log) == []


def test_the_hub_manifest_leaves_out_the_hashes_and_the_offending_samples(tiny_persona):  # noqa: F811
    from studio.persona.hub import hub_manifest

    registry = PersonaRegistry()
    persona = registry.update("tiny", data={**tiny_persona.data, "scrubbed": {"salt": "s", "hashes": {"phone": ["x"]}}},
                              gate={**tiny_persona.extra["gate"], "offending": [{"text": "secret"}]})
    manifest = hub_manifest(persona)
    assert "scrubbed" not in manifest["data"] and "offending" not in manifest["gate"]
    assert manifest["consent"]["statement"] == CONSENT
