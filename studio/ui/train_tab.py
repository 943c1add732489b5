"""Train tab: name, base model and a few settings; a progress bar while the adapter trains."""

from __future__ import annotations

import gradio as gr

from studio.config import TrainConfig, default_base
from studio.errors import InputError
from studio.models import cuda_available
from studio.registry import PersonaRegistry, slugify
from studio.train import train_persona
from studio.ui.common import user_errors
from studio.ui.data_tab import selected


def device_note() -> str:
    if cuda_available():
        return "CUDA GPU found: training uses **4-bit QLoRA** (bitsandbytes NF4, bf16 compute)."
    return ("No CUDA GPU: training uses **plain LoRA in fp32 on the CPU** "
            "(4-bit QLoRA needs a CUDA GPU; on a CPU it saves no memory and stops learning).")


@user_errors
def run_training(posts: list[dict], report, clean, table, name: str, base: str, steps: float, lr: float, rank: float,
                 system: str, overwrite: bool, progress=gr.Progress()):
    if not posts:
        raise InputError("No posts loaded: go to the Data tab, upload posts and press 'Load and clean posts' first.")
    slugify(name)
    config = TrainConfig(base_model=base or default_base(), max_steps=int(steps), learning_rate=float(lr),
                         rank=int(rank), alpha=2 * int(rank))
    progress(0, desc="Loading the base model (the bundled one is converted on first use, ~30 s)")

    def on_step(step: int, total: int, loss: float | None):
        progress((step, total), desc=f"step {step}/{total}" + (f", loss {loss:.3f}" if loss is not None else ""))

    chosen, report = selected(posts, report, table)
    result = train_persona(chosen, name, config, system_prompt=system, registry=PersonaRegistry(), progress=on_step,
                           overwrite=overwrite, clean=clean, report=report)
    p = result.persona
    return (f"Saved persona **{p.name}** (`{p.slug}`): {result.steps} steps in {result.seconds:.1f} s, "
            f"final loss {result.final_loss}, {result.posts_used} training posts "
            f"({report.split.get('validation', 0)} held out). Open the Chat tab to talk to it."), p.slug


def build(posts: gr.State, report: gr.State, clean: gr.State, table: gr.Dataframe) -> gr.State:
    """Returns a State that holds the slug of the last trained persona (the Chat tab refreshes on it)."""
    gr.Markdown(device_note(), elem_id="train-device")
    help_ = TrainConfig.help()
    with gr.Row():
        name = gr.Textbox(label="Persona name", placeholder="e.g. koume", elem_id="train-name")
        base = gr.Textbox(label="Base model", value=default_base(), info=help_["base_model"], elem_id="train-base")
    with gr.Row():
        steps = gr.Slider(1, 1000, value=TrainConfig.max_steps, step=1, label="Training steps", info=help_["max_steps"],
                          elem_id="train-steps")
        lr = gr.Number(value=TrainConfig.learning_rate, label="Learning rate", info=help_["learning_rate"], minimum=1e-6, maximum=0.1)
        rank = gr.Dropdown([4, 8, 16, 32, 64], value=TrainConfig.rank, label="LoRA rank", info=help_["rank"])
    system = gr.Textbox(label="System prompt (optional)", lines=2,
                        placeholder="Default: 'You are NAME. Reply as NAME would post: same voice, style and language.'")
    overwrite = gr.Checkbox(label="Replace an existing persona of this name", value=False)
    button = gr.Button("Train persona", variant="primary", elem_id="train-button")
    result = gr.Markdown(elem_id="train-result", min_height=90, container=True)  # room for the progress bar
    trained = gr.State(None)
    button.click(run_training, [posts, report, clean, table, name, base, steps, lr, rank, system, overwrite], [result, trained],
                 concurrency_limit=1, concurrency_id="train", show_progress="full")
    return trained
