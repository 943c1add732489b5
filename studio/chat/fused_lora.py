"""The LoRA deltas of a whole batch in two small matmuls per layer, whatever mix of adapters its rows use.

PEFT's LoRA layer does, per call and per adapter, a dropout module, two Linear modules, a scale and
dtype checks; with `adapter_names` it also splits the batch into sub-batches per adapter. On a CPU
decoding a few rows, that Python work costs more than the arithmetic. Here, once per batch layout,
each LoRA layer gets the batch's adapters side by side: `A: (in, R)` (every adapter's A, concatenated)
and `B: (R, out)` (every adapter's B, scaled), plus a 0/1 mask `(rows, R)` that keeps each row's own
block (all zero for a base-model row; no mask when every row uses the one adapter). Every forward is
then `base(x) + ((x @ A) * mask) @ B`. Each adapter's weights are read once per step, however many
rows use it; stacking a copy per row (the previous design) read them once per row, and decoding on a
CPU is bound by memory reads. PEFT still loads, names and deletes the adapters; only the forward is
replaced.
"""

from __future__ import annotations

import torch


class FusedLoRA:
    def __init__(self, model):
        from peft.tuners.lora import LoraLayer
        from peft.tuners.lora import Linear as LoraLinear

        self.layers = [m for m in model.modules() if isinstance(m, LoraLinear)]
        # LoRA layers of other kinds (embeddings, convolutions, 4-bit bases) keep PEFT's forward, which would give
        # every row the active adapter: with any of them the fused route is not exact and PEFT's per-row route runs
        self.others = [m for m in model.modules() if isinstance(m, LoraLayer) and not isinstance(m, LoraLinear)]
        self._batch: dict[int, tuple] | None = None
        self._cache: dict[tuple[str, ...], dict] = {}
        for layer in self.layers:
            layer.forward = self._forward_for(layer)

    def supported(self, names: list[str]) -> bool:
        """Plain LoRA on Linear layers only: no DoRA or other variants, no bias on B (`lora_bias`), no LoRA layer of
        another kind; else the engine takes PEFT's own route (the same replies, slower)."""
        return not self.others and all(not layer.lora_variant.get(n) and not layer.lora_bias.get(n)
                                       for layer in self.layers for n in set(names))

    def _forward_for(self, layer):
        original = type(layer).forward.__get__(layer)

        def forward(x, *args, **kwargs):
            batch = self._batch
            if batch is None or kwargs.get("adapter_names") is not None:
                return original(x, *args, **kwargs)
            result = layer.base_layer(x, *args, **kwargs)
            weights = batch.get(id(layer))
            if weights is None:  # no row has an adapter on this layer
                return result
            a, b, mask = weights
            h = x.reshape(-1, x.shape[-1]) @ a
            if mask is not None:
                h = (h.view(x.shape[0], -1, h.shape[-1]) * mask).view(-1, h.shape[-1])
            flat = result.view(-1, result.shape[-1])
            if torch.is_grad_enabled():
                return torch.addmm(flat, h, b).view(result.shape)
            return flat.addmm_(h, b).view(result.shape)

        return forward

    def route(self, names: list[str]):
        """Use these adapters ("__base__": none) for the rows of the next forwards; None to stop."""
        key = tuple(names)
        if key not in self._cache:
            if len(self._cache) > 32:
                self._cache.clear()
            self._cache[key] = self._stack(names)
        self._batch = self._cache[key]

    def clear(self) -> None:
        self._batch = None

    def forget(self) -> None:
        """Adapters changed (loaded, deleted): drop stacked copies."""
        self._cache.clear()

    def _stack(self, names: list[str]) -> dict:
        stacked, masks = {}, {}
        for layer in self.layers:
            present = list(dict.fromkeys(n for n in names if n in layer.lora_A))
            if not present:
                continue
            ranks = [layer.lora_A[n].weight.shape[0] for n in present]
            a = torch.cat([layer.lora_A[n].weight.detach().T for n in present], dim=1).contiguous()
            b = torch.cat([layer.lora_B[n].weight.detach().T * layer.scaling[n] for n in present]).contiguous()
            layout = (tuple(present), tuple(ranks))
            if layout not in masks:
                masks[layout] = self._mask(names, present, ranks, a)
            stacked[id(layer)] = (a, b, masks[layout])
        return stacked

    @staticmethod
    def _mask(names, present, ranks, like) -> torch.Tensor | None:
        if all(n == present[0] for n in names):
            return None
        mask = torch.zeros(len(names), 1, sum(ranks), dtype=like.dtype, device=like.device)
        offsets = [sum(ranks[:i]) for i in range(len(ranks))]
        for row, n in enumerate(names):
            if n in present:
                i = present.index(n)
                mask[row, 0, offsets[i]:offsets[i] + ranks[i]] = 1
        return mask
