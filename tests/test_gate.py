"""The publish gate: a planted persona that memorises a few posts with a fake phone number in them (one the
cleaning missed) is refused, with the phone and the copied post named; a normal persona passes; --force with a
reason records the override in the model card; push and export refuse a persona the gate refused."""

from __future__ import annotations

import json

import pytest

from studio.errors import InputError
from studio.persona.gate import GateError
from studio.persona.registry import PersonaRegistry
from tests.planted import GATE, PHONE, PLANTED

def test_a_memorising_persona_is_refused_with_the_phone_and_the_copied_post_named(parrot):
    from studio.evaluation.gate import run_gate

    record = run_gate("parrot", GATE)
    assert not record["passed"]
    reasons = " ".join(record["reasons"])
    assert "private data" in reasons and PHONE in reasons and "copy rate" in reasons and "extraction rate" in reasons
    private = [o for o in record["offending"] if o["kind"] == "private"]
    assert private and private[0]["value"] == PHONE and private[0]["post"] in PLANTED[:2]
    copies = [o for o in record["offending"] if o["kind"] in ("copy", "extracted")]
    assert copies and all(o["post"] in PLANTED for o in copies)
    f = record["figures"]
    assert f["copy_rate"] > GATE.max_copy_rate and f["extraction_rate"] > f["extraction_base"] + GATE.max_extraction_rate
    stored = PersonaRegistry().get("parrot")
    assert stored.extra["gate"]["passed"] is False
    card = (stored.path / "README.md").read_text()
    assert "## Publish gate" in card and "refused" in card


def test_push_and_export_refuse_what_the_gate_refused(parrot, tmp_path, capsys, monkeypatch):
    from studio.cli.main import main
    from studio.evaluation.gate import export_gated, run_gate

    run_gate("parrot", GATE)
    with pytest.raises(GateError, match=r"publish gate refused to export 'parrot'.*\(555\) 014-2367"):
        export_gated("parrot", tmp_path / "out")
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    assert main(["push", "parrot", "--repo", "alice/parrot"]) == 2
    err = capsys.readouterr().err
    assert "publish gate refused to push 'parrot'" in err and PHONE in err and "--force --reason" in err
    assert main(["push", "parrot", "--repo", "alice/parrot", "--force"]) == 2
    assert "Say why" in capsys.readouterr().err  # --force needs a reason


def test_force_records_the_override_and_its_reason_in_the_card(parrot, tmp_path):
    from studio.evaluation.gate import export_gated, run_gate

    run_gate("parrot", GATE)
    with pytest.raises(InputError, match="Say why"):
        export_gated("parrot", tmp_path, force=True, reason=" ")
    archive = export_gated("parrot", tmp_path, force=True, reason="the phone number is a fictional 555 one")
    persona = PersonaRegistry().get("parrot")
    record = persona.extra["gate"]
    assert not record["passed"] and record["override"]["reason"] == "the phone number is a fictional 555 one"
    card = (persona.path / "README.md").read_text()
    assert "Published anyway" in card and "the phone number is a fictional 555 one" in card
    import zipfile

    with zipfile.ZipFile(archive) as z:
        assert "Published anyway" in z.read("README.md").decode()


def test_a_normal_persona_passes_and_its_figures_are_in_the_card(tiny_persona):
    from studio.evaluation.gate import ensure_gate, run_gate

    record = run_gate("tiny", GATE)
    assert record["passed"] and record["reasons"] == [] and record["figures"]["private_hits"] == 0
    assert record["figures"]["replies"] == GATE.prompts and record["figures"]["copy_rate"] <= GATE.max_copy_rate
    card = (PersonaRegistry().get("tiny").path / "README.md").read_text()
    assert "## Publish gate" in card and "**passed**" in card and "copy rate of 8 sampled replies" in card
    assert ensure_gate("tiny") == record  # fresh: not run again
    adapter = PersonaRegistry().get("tiny").adapter_dir / "adapter_model.safetensors"
    adapter.write_bytes(adapter.read_bytes() + b" ")  # a changed adapter needs a new check
    from studio.persona.gate import check_publishable

    with pytest.raises(GateError, match="has not been through the publish gate"):
        check_publishable(PersonaRegistry().get("tiny"))


def test_the_gate_cli_prints_figures_and_exits_1_when_refused(parrot, capsys):
    from studio.cli.main import main

    assert main(["gate", "parrot", "--prompts", "8", "--max-new-tokens", "40", "--extraction-posts", "16"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("REFUSED") and PHONE in out and "post: " in out
    assert main(["gate", "parrot", "--json", "--prompts", "8", "--force", "--reason", "test"]) == 0
    assert json.loads(capsys.readouterr().out)["override"]["reason"] == "test"


def test_the_character_card_goes_through_the_gate_and_quotes_no_post_with_private_data(parrot, tmp_path):
    from studio.evaluation.gate import character_card_gated

    with pytest.raises(GateError, match=r"refused to export a Character Card of 'parrot'"):
        character_card_gated("parrot", tmp_path / "card.json", config=GATE)
    assert not (tmp_path / "card.json").exists()
    path = character_card_gated("parrot", tmp_path / "card.json", force=True, reason="a fictional 555 number", config=GATE)
    card = json.loads(path.read_text(encoding="utf-8"))
    quoted = [card["data"]["first_mes"], *card["data"]["alternate_greetings"]]
    assert all(q in PLANTED[2:] for q in quoted) and "014-2367" not in path.read_text(encoding="utf-8")
