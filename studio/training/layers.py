"""The decoder's layers, for a pass that starts above the frozen ones.

With LoRA on the top layers only (`lora_layers`), every layer below the lowest adapted one computes the same
hidden states with the adapter on or off. The KL anchor needs the base model's distribution (the adapter off)
on the replay rows, which the persona's own pass (the adapter on) has just run through those lower layers:
`layer_input` keeps the hidden states that enter the lowest trained layer, and `layers_from` runs the decoder
from there (`inputs_embeds` = those hidden states, the layers below left out), so the base's pass costs the top
layers only. Whether that gives a model the same numbers as its whole pass is checked, not assumed
(studio.training.step.base_logits): a decoder that scales `inputs_embeds` in its own forward (Granite's
embedding_multiplier) or numbers its layers by position would not.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


def decoder_layers(causal_lm) -> torch.nn.ModuleList | None:
    """The decoder's list of layers (`model.layers` in Llama, Qwen, Mistral, ...), None when it has none."""
    layers = getattr(causal_lm.get_decoder(), "layers", None)
    return layers if isinstance(layers, torch.nn.ModuleList) else None


def first_trained_layer(causal_lm) -> int:
    """The index of the lowest decoder layer with a trainable weight: the layers below it are the base's.
    0 when nothing below can be skipped (the embeddings train, every layer trains, or no `layers` list)."""
    layers = decoder_layers(causal_lm)
    if layers is None or any(p.requires_grad for p in causal_lm.get_input_embeddings().parameters()):
        return 0
    trained = [i for i, layer in enumerate(layers) if any(p.requires_grad for p in layer.parameters())]
    return trained[0] if trained else 0


@contextmanager
def layer_input(causal_lm, index: int):
    """A list that receives, for each forward pass inside the context, the hidden states entering decoder
    layer `index` (detached)."""
    seen: list[torch.Tensor] = []

    def keep(module, args, kwargs):
        seen.append((args[0] if args else kwargs["hidden_states"]).detach())

    handle = decoder_layers(causal_lm)[index].register_forward_pre_hook(keep, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()


@contextmanager
def layers_from(causal_lm, index: int):
    """The decoder with its layers from `index` up only: a pass given `inputs_embeds` = the hidden states
    entering layer `index` runs the rest of the model."""
    decoder = causal_lm.get_decoder()
    layers = decoder.layers
    decoder.layers = torch.nn.ModuleList(list(layers)[index:])
    try:
        yield decoder
    finally:
        decoder.layers = layers
