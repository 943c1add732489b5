"""Batched generation and held-out loss for a PeftModel, base rows and persona rows side by side.

PEFT runs a batch whose rows use different adapters (`adapter_names`, `"__base__"` for the bare
model), so the base model and the persona answer the same prompts in one `generate` call, and the
base loss comes from the same weights with the adapter switched off: nothing is loaded twice.
"""

from __future__ import annotations

import contextlib

from studio.chat_format import IGNORE_INDEX, build_examples, pad_batch

BASE = "__base__"


@contextlib.contextmanager
def inference(model):
    """Eval mode and no gradients for the duration; the model's previous mode is restored after
    (a probe during training must leave the Trainer's model training)."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        if was_training:
            model.train()


def _adapter_kwargs(model, adapters: list[str | None]) -> dict:
    """`adapter_names` for a PeftModel; None rows run the active adapter (used during training)."""
    if not hasattr(model, "peft_config") or all(a is None for a in adapters):
        return {}
    active = model.active_adapter if isinstance(model.active_adapter, str) else model.active_adapters[0]
    return {"adapter_names": [a or active for a in adapters]}


class GumbelTopK:
    """A logits processor that samples: softmax(scores / temperature) over the `k` best tokens, drawn
    as argmax(scores / temperature + Gumbel noise) with its own seeded generator; everything but the
    drawn token is set to -inf, so greedy decoding then picks it."""

    def __init__(self, temperature: float, k: int, seed: int):
        import torch

        self.temperature, self.k = temperature, k
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, input_ids, scores):
        import torch

        values, indices = scores.float().topk(min(self.k, scores.shape[-1]), dim=-1)
        uniform = torch.rand(values.shape, generator=self.generator).clamp_(1e-10, 1.0).to(values.device)
        drawn = (values / self.temperature - torch.log(-torch.log(uniform))).argmax(dim=-1, keepdim=True)
        result = torch.full_like(scores, float("-inf"))
        return result.scatter_(-1, indices.gather(-1, drawn), 0.0)


def generate(model, tokenizer, chats: list[list[dict]], adapters: list[str | None], max_new_tokens: int,
             temperature: float = 0.0, seed: int = 0, batch_size: int = 16, repetition_penalty: float = 1.15,
             top_k: int = 50) -> list[str]:
    """One reply per chat (messages for the chat template), row i with adapter `adapters[i]`
    (BASE for the bare model). Rows are batched by prompt length, left-padded; each batch is seeded
    from `seed` and its position, so the same inputs give the same replies. Sampling is top-k by
    the Gumbel-max trick on the k best tokens (`GumbelTopK`), not top-p + multinomial: those sort and
    draw over the whole vocabulary every step, 0.3 s a step for 32 rows of SmolLM2's 49k tokens on
    one core, more than the small model's forward pass."""
    from transformers import LogitsProcessorList

    prompts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
    replies: list[str] = [""] * len(prompts)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        with inference(model):
            for number, start in enumerate(range(0, len(order), batch_size)):
                rows = order[start:start + batch_size]
                encoded = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True,
                                    add_special_tokens=False).to(model.device)
                kwargs = dict(**encoded, max_new_tokens=max_new_tokens,
                              repetition_penalty=repetition_penalty, pad_token_id=tokenizer.pad_token_id,
                              **_adapter_kwargs(model, [adapters[i] for i in rows]))
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                if temperature > 0:
                    kwargs["logits_processor"] = LogitsProcessorList([GumbelTopK(temperature, top_k, seed * 1000 + number)])
                output = model.generate(**kwargs)
                texts = tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
                for i, text in zip(rows, texts):
                    replies[i] = text.strip().rstrip("\ufffd")
    finally:
        tokenizer.padding_side = side
    return replies


def held_out_loss(model, tokenizer, texts: list[str], system_prompt: str, adapter: str | None, max_length: int,
                  seed: int = 0, batch_size: int = 8) -> dict:
    """Mean cross-entropy per post token (the assistant turn, as in training) and its perplexity.

    The output layer (49k tokens wide for SmolLM2) runs only from the earliest post token of the
    batch on (`logits_to_keep`), not over the system prompt and user turn."""
    import math

    import torch

    from studio.ingest import Post

    examples = build_examples([Post(text=t) for t in texts], tokenizer, system_prompt, max_length, seed)
    examples.sort(key=lambda e: len(e["input_ids"]))
    total, tokens = 0.0, 0
    with inference(model):
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            batch = {k: v.to(model.device) for k, v in pad_batch(chunk, tokenizer.pad_token_id).items()}
            labels = batch.pop("labels")
            width = labels.shape[1]
            first = min(e["labels"].index(next(x for x in e["labels"] if x != IGNORE_INDEX)) for e in chunk)
            keep = width - first + 1  # logits at positions first-1 .. width-1 predict tokens first .. width
            logits = model(**batch, logits_to_keep=keep, **_adapter_kwargs(model, [adapter] * len(chunk))).logits
            target = labels[:, width - keep + 1:]
            total += float(torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                                             target.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"))
            tokens += int((target != IGNORE_INDEX).sum())
    loss = total / max(tokens, 1)
    return {"loss": round(loss, 4), "perplexity": round(math.exp(min(loss, 50)), 2), "tokens": tokens, "posts": len(examples)}
