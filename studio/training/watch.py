"""General knowledge watched during training: the quick knowledge probe (studio.evaluation.probe) before
the first step and every `probe_steps` steps, as probe events; with `probe_stop_drop`, training stops once
the accuracy falls that far below its value before training, and the adapter of the last probe that was
still within that drop is put back (the best adapter that still knew what the base knew)."""

from __future__ import annotations

from studio.events import PROBE, WARNING, ProbeEvent, Progress, WarningEvent
from studio.evaluation.probe import questions, quick_accuracy


def _trainable(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def knowledge_watch(tokenizer, emit: Progress, every: int, stop_drop: float = 0.0):
    """A TrainerCallback (see the module's docstring)."""
    import torch
    from transformers import TrainerCallback

    class KnowledgeWatch(TrainerCallback):
        baseline: float | None = None
        kept: tuple[int, dict] | None = None  # (step, trainable weights) of the last probe within the drop
        stopped = False

        def _probe(self, state, control, model):
            accuracy = quick_accuracy(model, tokenizer)
            if self.baseline is None:
                self.baseline = accuracy
            emit(ProbeEvent(event=PROBE, step=state.global_step, accuracy=accuracy, questions=len(questions(quick=True))))
            if not stop_drop:
                return
            if self.baseline - accuracy < stop_drop - 1e-9:
                self.kept = (state.global_step, _trainable(model))
                return
            self.stopped = control.should_training_stop = True
            kept = f"; the adapter of step {self.kept[0]} is kept" if self.kept and self.kept[0] else ""
            emit(WarningEvent(event=WARNING, message=f"General knowledge is slipping: the quick probe fell from "
                 f"{self.baseline:.0%} to {accuracy:.0%} at step {state.global_step}; training stops here{kept}."))

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self._probe(state, control, model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % every == 0:
                self._probe(state, control, model)

        def on_train_end(self, args, state, control, model=None, **kwargs):
            # after the Trainer loaded its best checkpoint by validation loss: knowledge comes first
            if self.stopped and self.kept and self.kept[0]:
                params = dict(model.named_parameters())
                with torch.no_grad():
                    for name, value in self.kept[1].items():
                        params[name].copy_(value)

    return KnowledgeWatch()
