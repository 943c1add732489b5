"""The Train tab's plot: training loss, validation loss and the knowledge probe, from a job's events."""

from studio.ui.train_tab import _curve


def test_curve_plots_the_probe_beside_the_losses():
    steps = [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.25}]
    evals = [{"step": 2, "eval_loss": 2.4}]
    probes = [{"step": 0, "accuracy": 0.75}, {"step": 2, "accuracy": 0.5}]
    frame = _curve(steps, evals, probes)
    assert frame.to_dict("records") == [
        {"step": 1, "loss": 2.5, "series": "training"}, {"step": 2, "loss": 2.25, "series": "training"},
        {"step": 2, "loss": 2.4, "series": "validation"},
        {"step": 0, "loss": 0.75, "series": "knowledge probe (accuracy)"}, {"step": 2, "loss": 0.5, "series": "knowledge probe (accuracy)"},
    ]
