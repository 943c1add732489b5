"""The evaluation's replies and held-out loss, base rows and persona rows side by side.

Replies come from the chat's own batched generation (studio.chat.generate.generate_rows), so the
evaluation scores the decoder users chat with. PEFT runs a batch whose rows use different adapters
(`adapter_names`, BASE_ADAPTER for the bare model), so the base model and the persona answer the same
prompts in one `generate` call, and the base loss comes from the same weights with the adapter
switched off: nothing is loaded twice.
"""

from __future__ import annotations

import contextlib

from studio.chat.config import GenerationConfig
from studio.chat.generate import Prompt, generate_rows, peft_route, prompt_ids
from studio.chat_format import IGNORE_INDEX, build_examples, pad_batch


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


def eval_settings(max_new_tokens: int, temperature: float = 0.0) -> GenerationConfig:
    """The evaluation's decoding as a chat pane's settings: top-k 50 at `temperature` (greedy at 0),
    no top-p, a repetition penalty of 1.15 and no n-gram ban."""
    return GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature, top_k=50, top_p=1.0,
                            repetition_penalty=1.15, no_repeat_ngram_size=0)


def generate(model, tokenizer, chats: list[list[dict] | str], adapters: list[str | None], settings: GenerationConfig,
             seed: int = 0, batch_size: int = 16) -> list[str]:
    """One reply per chat (messages for the chat template, or raw text continued as it is), row i with adapter `adapters[i]` (BASE_ADAPTER
    for the bare model, None for the model's active adapter) and seed `seed * 2**20 + i`, so a reply
    depends on its inputs only, not on its batch. Rows are batched by prompt length (little padding).

    The decoder is chat's (`generate_rows`, RowSampler), with its fast top-k draw (`fast_draw`): for the
    evaluation's top-k, top_p 1 settings it samples from the same distribution as chat's exact draw, in
    a sixth of the sampler's time for SmolLM2's 49k-token vocabulary (see studio.chat.sampling)."""
    lengths = [len(prompt_ids(tokenizer, c)) for c in chats]
    order = sorted(range(len(chats)), key=lambda i: (lengths[i], i))
    replies: list[str] = [""] * len(chats)
    with inference(model):
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            prompts = [Prompt(chats[i], settings, seed * 2**20 + i, adapters[i]) for i in rows]
            for i, text in zip(rows, generate_rows(model, tokenizer, prompts, fast_draw=True)):
                replies[i] = text.strip()
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
            with peft_route(model)([adapter] * len(chunk), batch):
                logits = model(**batch, logits_to_keep=keep).logits
            target = labels[:, width - keep + 1:]
            total += float(torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                                             target.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"))
            tokens += int((target != IGNORE_INDEX).sum())
    loss = total / max(tokens, 1)
    return {"loss": round(loss, 4), "perplexity": round(math.exp(min(loss, 50)), 2), "tokens": tokens, "posts": len(examples)}
