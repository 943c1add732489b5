"""The Personas tab's versions side by side: the table and the style-against-knowledge points, built from
evaluations planted by hand in persona.json (through the registry API), old and new shapes mixed."""

from studio.persona.registry import Persona, PersonaRegistry
from studio.ui.versions_view import DISCRIMINATOR, SIMILARITY, show, style_knowledge_points, versions_table


def evaluation(kept: int, known: int, copy: float, loss: float, similarity: float, discriminator=None, facts=None) -> dict:
    """An evaluation result of the shape studio.evaluation.run stores; `discriminator` and `facts` only when given
    (evaluations made before those measures existed lack them)."""
    result = {
        "created_at": "2026-12-01T10:00:00Z", "summary": "planted", "config": {"prompts": 16}, "seconds": 60,
        "knowledge": {"kept": kept, "known": known, "lost": [], "rows": [], "base_accuracy": known / 20,
                      "persona_accuracy": kept / 20},
        "memorisation": {"copy_rate": copy, "base_copy_rate": 0.0, "replies": 10, "copied": round(copy * 10)},
        "loss": {"base": {"loss": 3.9, "perplexity": 49.4}, "persona": {"loss": loss, "perplexity": 2.71828 ** loss}},
        "style": {"similarity": {"base": 0.2, "persona": similarity, "real": 0.3}},
    }
    if discriminator is not None:
        result["style"]["discriminator"] = {"base": discriminator[0], "persona": discriminator[1], "folds": 5, "texts": 40}
    if facts is not None:
        result["facts"] = facts
    return result


BASE = {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "spec": "bundled"}
PLANTED = [  # oldest first: v1 before the discriminator and facts, v2 forgot a lot, v3 (current) keeps most
    ({"steps": 60}, evaluation(2, 16, 0.1, 3.1, 0.26)),
    ({"steps": 120}, evaluation(4, 16, 0.3, 2.9, 0.31, discriminator=(0.97, 0.70),
                                facts={"asked": 3, "base_known": 0, "persona_known": 2})),
    ({"steps": 60, "best_eval_loss": 3.3}, evaluation(15, 16, 0.0, 3.2, 0.24, discriminator=(0.97, 0.82),
                                                      facts={"asked": 3, "base_known": 0, "persona_known": 1})),
]


def plant_versions(registry: PersonaRegistry, name: str = "Ann") -> list[Persona]:
    """Three versions of `name` (retrained twice), each with its hand-written evaluation; plus one persona never
    evaluated. Returns the versions as the registry lists them (current first)."""
    for metrics, result in PLANTED:
        with registry.create(Persona(name=name, slug=name.lower(), metrics=metrics, base_model=BASE), overwrite=True) as staging:
            (staging / "adapter").mkdir()
        registry.update(name.lower(), evaluation=result)
    with registry.create(Persona(name="Never evaluated", slug="never-evaluated", metrics={"steps": 5}, base_model=BASE)):
        pass
    return registry.versions(name.lower())


def test_table_has_each_versions_measures_old_and_new_evaluations():
    versions = plant_versions(PersonaRegistry())
    table = versions_table(versions)
    assert list(table["version"]) == ["v3 (current)", "v2", "v1"]
    assert list(table["steps"]) == [60, 120, 60]
    assert list(table["knowledge kept"]) == ["15/16", "4/16", "2/16"]
    assert list(table["kept %"]) == [93.8, 25.0, 12.5]
    assert list(table["copy rate %"]) == [0.0, 30.0, 10.0]
    assert list(table["style"]) == ["AUC 0.82 (base 0.97)", "AUC 0.70 (base 0.97)",
                                    "similarity 0.26 (base 0.20, their posts 0.30)"]
    assert list(table["held-out loss"]) == [3.2, 2.9, 3.1]
    assert list(table["facts known"]) == ["1/3 (base 0)", "2/3 (base 0)", ""]  # v1's evaluation had no facts


def test_points_one_per_version_with_the_base_model_for_reference():
    points = style_knowledge_points(plant_versions(PersonaRegistry()))
    assert points.to_dict("records") == [
        {"knowledge kept": 0.9375, "style closeness": 0.18, "version": "v3 (current)", "style measure": DISCRIMINATOR},
        {"knowledge kept": 0.25, "style closeness": 0.3, "version": "v2", "style measure": DISCRIMINATOR},
        {"knowledge kept": 0.125, "style closeness": 0.26, "version": "v1", "style measure": SIMILARITY},
        {"knowledge kept": 1.0, "style closeness": 0.03, "version": "base model", "style measure": DISCRIMINATOR},
    ]


def test_a_persona_never_evaluated_shows_its_row_and_no_plot():
    registry = PersonaRegistry()
    plant_versions(registry)
    table, plot, note = show("never-evaluated")
    assert table.to_dict("records") == [{
        "version": "v1 (current)", "trained": table["trained"][0], "steps": 5, "knowledge kept": "", "kept %": None,
        "copy rate %": None, "style": "not evaluated", "held-out loss": None, "facts known": ""}]
    assert plot.visible is False and note.visible is False
    table, plot, note = show("ann")
    assert len(table) == 3 and len(plot.value["data"]) == 4 and plot.visible is True  # 3 versions, the base model


def test_no_persona_or_an_unknown_one_gives_an_empty_table():
    for slug in (None, "nobody"):
        table, plot, _ = show(slug)
        assert table.empty and plot.visible is False


def test_the_personas_tab_details_show_the_versions():
    from studio.ui import personas_tab

    plant_versions(PersonaRegistry())
    report, preview, version, table, plot, note = personas_tab.details("ann")
    assert "Ann" in report and len(version.choices) == 3 and list(table["version"])[0] == "v3 (current)"
    assert plot.visible is True and note.visible is True


def test_the_y_axis_says_which_style_measure_it_shows():
    from studio.ui.versions_view import Y_MIXED, Y_TITLE, plot_update

    points = style_knowledge_points(plant_versions(PersonaRegistry()))
    mixed = plot_update(points)  # v1 was evaluated before the discriminator: its point is the embedding similarity
    assert mixed.y_title == Y_MIXED and mixed.y_lim == [-0.02, 1.02]
    discriminator_only = plot_update(points[points["version"] != "v1"])
    assert discriminator_only.y_title == Y_TITLE and discriminator_only.y_lim == [-0.02, 0.57]
    assert discriminator_only.color_map == {"v3 (current)": "#d62728", "v2": "#1f77b4", "base model": "#7f7f7f"}


def test_a_refresh_keeps_the_version_picked_and_restoring_the_current_one_is_refused():
    import gradio as gr
    import pytest

    from studio.ui import personas_tab

    plant_versions(PersonaRegistry())
    refs = [ref for _, ref in personas_tab.details("ann")[2].choices]
    assert personas_tab.details("ann")[2].value == refs[0]  # nothing picked: the current version
    assert personas_tab.details("ann", refs[2])[2].value == refs[2]  # a late refresh keeps the pick
    assert personas_tab.refresh("ann", refs[1])[5].value == refs[1]
    assert personas_tab.details("ann", "someone-else@v1")[2].value == refs[0]  # another persona's pick is dropped
    with pytest.raises(gr.Error, match="v3 is already the current version of 'ann'"):
        personas_tab.restore("ann", refs[0])
    assert PersonaRegistry().get("ann").version == 3
