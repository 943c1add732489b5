"""The LoRA deltas of a whole batch in one pair of batched matmuls per layer.

PEFT's LoRA layer does, per call and per adapter, a dropout module, two Linear modules, a scale and
dtype checks; with `adapter_names` it also splits the batch into sub-batches per adapter. On a CPU
decoding a few rows, that Python work costs more than the arithmetic. Here, once per generate, each
LoRA layer gets the batch's stacked weights, `A: (rows, in, r)` and `B * scale: (rows, r, out)` (zeros
for a base-model row); every forward is then `base(x) + (x @ A) @ B`: two `bmm` for all rows, whatever
mix of adapters they use. PEFT still loads, names and deletes the adapters; only the forward is replaced.
"""

from __future__ import annotations

import torch


class FusedLoRA:
    def __init__(self, model):
        from peft.tuners.lora import Linear as LoraLinear

        self.layers = [m for m in model.modules() if isinstance(m, LoraLinear)]
        self._batch: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None
        self._cache: dict[tuple[str, ...], dict] = {}
        for layer in self.layers:
            layer.forward = self._forward_for(layer)

    def supported(self, names: list[str]) -> bool:
        """Plain LoRA only (no DoRA or other variants)."""
        return all(not layer.lora_variant.get(n) for layer in self.layers for n in set(names))

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
            a, b = weights
            rows = x.reshape(x.shape[0], -1, x.shape[-1])
            return result + torch.bmm(torch.bmm(rows, a), b).reshape(result.shape)

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
        stacked = {}
        for layer in self.layers:
            present = [n for n in names if n in layer.lora_A]
            if not present:
                continue
            rank = max(layer.lora_A[n].weight.shape[0] for n in present)
            like = layer.lora_A[present[0]].weight
            a = torch.zeros(len(names), layer.in_features, rank, dtype=like.dtype, device=like.device)
            b = torch.zeros(len(names), rank, layer.out_features, dtype=like.dtype, device=like.device)
            for i, n in enumerate(names):
                if n in layer.lora_A:
                    r = layer.lora_A[n].weight.shape[0]
                    a[i, :, :r] = layer.lora_A[n].weight.detach().T
                    b[i, :r, :] = layer.lora_B[n].weight.detach().T * layer.scaling[n]
            stacked[id(layer)] = (a, b)
        return stacked
