import json

import pytest

from studio.errors import PersonaError
from studio.persona.registry import Persona, PersonaRegistry, slugify


@pytest.mark.parametrize("name, slug", [("Koume", "koume"), ("Andre Ruffert!", "andre-ruffert"), ("コウメ太夫", "コウメ太夫"),
                                        ("ＫＯＵＭＥ", "koume"), ("a" * 100, "a" * 64)])
def test_slugify(name, slug):
    assert slugify(name) == slug


@pytest.mark.parametrize("name", ["", "   ", "../x", "a/b", "..", ".hidden", "!!!", "base", "BASE", "a\\b"])
def test_invalid_names_refused(name):
    with pytest.raises(PersonaError):
        slugify(name)


def _persona(slug="koume", **kw):
    return Persona(name=slug.title(), slug=slug, base_model={"id": "x"}, **kw)


def test_create_is_atomic_and_listed(tmp_path):
    registry = PersonaRegistry(tmp_path)
    with registry.create(_persona()) as staging:
        (staging / "adapter").mkdir()
        assert registry.list() == []  # still staging: invisible
    assert [p.slug for p in registry.list()] == ["koume"]
    assert registry.get("Koume").path == tmp_path / "koume"


def test_failed_build_leaves_nothing(tmp_path):
    registry = PersonaRegistry(tmp_path)
    with pytest.raises(RuntimeError):
        with registry.create(_persona()):
            raise RuntimeError("crash while saving")
    assert registry.list() == [] and not (tmp_path / "koume").exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".lock")] == []


def test_existing_kept_unless_overwrite(tmp_path):
    registry = PersonaRegistry(tmp_path)
    with registry.create(_persona(system_prompt="v1")):
        pass
    with pytest.raises(PersonaError, match="already exists"):
        with registry.create(_persona()):
            pass
    with registry.create(_persona(system_prompt="v2"), overwrite=True):
        pass
    assert registry.get("koume").system_prompt == "v2"
    assert len(registry.list()) == 1


def test_unknown_keys_kept_missing_defaulted_broken_reported(tmp_path):
    registry = PersonaRegistry(tmp_path)
    (tmp_path / "future").mkdir(parents=True)
    (tmp_path / "future" / "persona.json").write_text(json.dumps({"name": "Future", "schema_version": 9, "new_thing": [1]}))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "persona.json").write_text("{ not json")
    (tmp_path / "half").mkdir()  # no manifest: not a persona
    persona = registry.get("future")
    assert persona.slug == "future" and persona.extra == {"new_thing": [1]} and persona.metrics == {}
    assert persona.to_json()["new_thing"] == [1]
    assert [p.slug for p in registry.list()] == ["future"]
    assert len(registry.problems()) == 1 and "broken" in registry.problems()[0]


def test_unknown_persona_message_names_the_fix(tmp_path):
    with pytest.raises(PersonaError, match="python -m studio train"):
        PersonaRegistry(tmp_path).get("nobody")


def test_delete(tmp_path):
    registry = PersonaRegistry(tmp_path)
    with registry.create(_persona()):
        pass
    registry.delete("koume")
    assert registry.list() == []


def test_update_sets_fields_and_keeps_unknown_keys(tmp_path):
    registry = PersonaRegistry(tmp_path)
    with registry.create(_persona(metrics={"loss": 1.0})):
        pass
    registry.update("koume", metrics={"loss": 0.5}, evaluation={"summary": "ok"})
    persona = registry.get("koume")
    assert persona.metrics == {"loss": 0.5} and persona.extra["evaluation"] == {"summary": "ok"}
    assert json.loads((tmp_path / "koume" / "persona.json").read_text())["evaluation"] == {"summary": "ok"}
    assert [p.name for p in (tmp_path / "koume").iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("ref, parsed", [("koume@v2", ("koume", 2)), ("koume", ("koume", None)), (" Koume@v10 ", ("Koume", 10)),
                                         ("a@b", ("a@b", None)), ("", ("", None))])
def test_version_refs_are_read_and_written_in_one_place(ref, parsed):
    from studio.persona.registry import parse_ref, version_ref

    assert parse_ref(ref) == parsed
    if parsed[1] is not None:
        assert parse_ref(version_ref(*parsed)) == parsed


def test_check_available_is_the_one_name_check(tmp_path):
    registry = PersonaRegistry(tmp_path)
    assert registry.check_available("Koume") == "koume"
    with registry.create(_persona()):
        pass
    with pytest.raises(PersonaError, match="already exists"):
        registry.check_available("KOUME")
    assert registry.check_available("KOUME", overwrite=True) == "koume"
    with pytest.raises(PersonaError, match="Invalid persona name"):
        registry.check_available("../koume", overwrite=True)
