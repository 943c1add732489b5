"""Forget a post: removed from the persona's data, retrained from its saved settings into a new version (the old
version kept, or deleted when asked), counted in the manifest without its text, and checked by the gate."""

from __future__ import annotations

import json

import pytest

from studio.errors import InputError, PersonaError
from studio.persona.registry import PersonaRegistry
from studio.training import forget
from tests.planted import GATE, PLANTED

FRIDAY = "Why does every build break on a Friday?"


def test_choosing_posts_by_id_ref_or_text(tiny_persona):  # noqa: F811
    plan = forget.plan_forget("tiny", matching="friday")
    assert plan.texts == [FRIDAY] and sum(len(r) for r in plan.kept.values()) == 7
    ref = next(r["ref"] for r in forget.data_rows(tiny_persona) if r["text"] == FRIDAY)
    assert forget.plan_forget("tiny", [ref]).texts == [FRIDAY]
    with pytest.raises(InputError, match="No post with id train:99"):
        forget.plan_forget("tiny", ["train:99"])
    with pytest.raises(InputError, match="No post of 'tiny' contains 'zebra'"):
        forget.plan_forget("tiny", matching="zebra")
    with pytest.raises(InputError, match="--post ID"):
        forget.plan_forget("tiny")
    with pytest.raises(PersonaError, match="current version"):
        forget.plan_forget("tiny@v1", matching="friday")


def test_forget_from_the_cli_retrains_a_new_version_and_deletes_the_old(tiny_persona, capsys):  # noqa: F811
    from studio.cli.main import main

    code = main(["forget", "tiny", "--matching", "FRIDAY", "--delete-old-versions", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["forgotten"] == 1 and out["version"] == 2 and out["deleted_versions"] == ["tiny@v1"]
    registry = PersonaRegistry()
    persona = registry.get("tiny")
    texts = [r["text"] for r in forget.data_rows(persona)]
    assert FRIDAY not in texts and len(texts) == 7
    assert [p.version for p in registry.versions("tiny")] == [2]
    assert persona.data["forgotten"]["posts"] == 1 and FRIDAY not in (persona.path / "persona.json").read_text()
    assert persona.extra["consent"] and persona.train["max_steps"] == 2  # the saved settings and consent carried over
    gate = persona.extra["gate"]
    assert gate["passed"] and gate["figures"]["forgotten_posts"] == 1 and gate["figures"]["forgotten_hits"] == 0
    assert "removed at the owner's request (forget)" in (persona.path / "README.md").read_text()


def test_the_gate_refuses_a_persona_that_reproduces_a_forgotten_post(parrot):  # noqa: F811
    from studio.evaluation.gate import run_gate

    record = run_gate("parrot", GATE, forgotten=[PLANTED[0]])
    assert not record["passed"] and any("forgotten" in r for r in record["reasons"])
    assert record["figures"]["forgotten_hits"] >= 1
    assert any(o["kind"] == "forgotten" and o["post"] == PLANTED[0] for o in record["offending"])
