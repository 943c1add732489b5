"""The training step, shaped for short posts on a CPU: every token that costs compute and teaches
nothing is skipped, with the same loss and gradients as the plain forward (tests prove it).

- The output layer runs only at the post's tokens (not the prompt's or the padding's), and its
  vocabulary-wide logits are turned into the loss and the gradient in one pass (`post_token_loss`).
  With the KL anchor the replay rows' cross-entropy and KL come the same way (`replay_token_loss`,
  studio.training.losses).
- LoRA layers compute `base(x) + scaling * B(A(x))` as two matrix products, the sum folded into the
  second (`lean_lora`).
- The rows of a batch run as one row in which their common opening (chat markup, system prompt) comes
  once, each row's rest attending to it and to itself only (`one_row`).
- A batch wider than `max_batch_tokens` runs in parts whose gradients add up (less peak memory).
- With replay (studio.training.replay), a batch also carries replay rows (the base model's own answers,
  key "replay"), run in the same pass as the posts (`with_replay`; their own pass when the joined batch would be
  wider than `max_batch_tokens`): the step's loss is (1 - replay_share) x the posts' mean cross-entropy +
  replay_share x (the replay rows' mean cross-entropy + kl_weight x their mean KL(base || persona)), the base's
  distribution from the same model with the adapter off, from the lowest trained layer up (`base_logits`).
"""

from __future__ import annotations

import types
import weakref
from contextlib import contextmanager, nullcontext

import torch

from studio.chat_format import IGNORE_INDEX
from studio.training.batches import fits, one_row, one_row_is_exact, split_batch
from studio.training.layers import first_trained_layer, layer_input, layers_from
from studio.training.losses import post_token_loss, replay_objective, replay_token_loss
from studio.training.ranks import average_gradients, world_size

def _lean_forward(self, x, *args, **kwargs):
    name = self.active_adapters[0] if len(self.active_adapters) == 1 else None
    if self.disable_adapters or self.merged or args or kwargs or name not in self.lora_A:
        return type(self).forward(self, x, *args, **kwargs)
    base, scaling = self.base_layer, self.scaling[name]
    flat = x.reshape(-1, x.shape[-1])
    out = flat @ base.weight.T if base.bias is None else torch.addmm(base.bias, flat, base.weight.T)
    out = torch.addmm(out, flat @ self.lora_A[name].weight.T, self.lora_B[name].weight.T, alpha=scaling)
    return out.view(*x.shape[:-1], out.shape[-1])


@contextmanager
def lean_lora(model):
    """PEFT's LoRA forward is `base(x) + lora_B(lora_A(dropout(x))) * scaling`: a multiply and an add over
    every adapted layer's output, and their gradients. Inside this context plain LoRA layers (no dropout,
    no DoRA, unquantized fp weights) fold both into the second matrix product (`addmm`): the same numbers,
    ~7 % less time per CPU training step. Other layers keep PEFT's forward."""
    from peft.tuners.lora import Linear

    lean = []
    for module in model.modules():
        if isinstance(module, Linear) and type(module.base_layer) is torch.nn.Linear and not module.lora_variant \
                and all(isinstance(d, torch.nn.Identity) for d in module.lora_dropout.values()) \
                and not any(module.lora_bias.values()):  # a bias on B (lora_bias) is not in the two products
            module.forward = types.MethodType(_lean_forward, module)
            lean.append(module)
    try:
        yield model
    finally:
        for module in lean:
            del module.forward


def labelled_hidden(causal_lm, inputs: dict, keep, below=None, start: int = 0):
    """The decoder's last hidden states at the positions that predict a labelled token (`keep`: labels
    shifted by one, != IGNORE_INDEX), the batch run as `one_row` where that is exact. With `below` (the hidden
    states entering decoder layer `start` in such a pass, studio.training.layers.layer_input) only the layers
    from `start` up run, and only over the rows with a labelled token (`_rows_of`)."""
    config, head = causal_lm.config, causal_lm.get_output_embeddings()
    decoder = causal_lm.get_decoder()
    row = one_row(inputs, head.weight.dtype) if one_row_is_exact(config, inputs["input_ids"].shape[1], decoder) else None
    if row is None:
        feed = {"input_ids": inputs["input_ids"], "attention_mask": inputs.get("attention_mask")}
    else:
        feed = {key: row[key] for key in ("input_ids", "attention_mask", "position_ids")}
    if below is None:
        hidden = decoder(**feed).last_hidden_state
    else:
        row, feed, below, keep = _rows_of(row, feed, below, keep, inputs.get("attention_mask"))
        with layers_from(causal_lm, start) as upper:
            hidden = upper(inputs_embeds=below, **feed).last_hidden_state
    return hidden[:, :-1][keep] if row is None else hidden[0][row["where"][:, :-1][keep]]


def _rows_of(row: dict | None, feed: dict, below, keep, mask):
    """The pass from `below` cut to the rows with a labelled token (the replay rows of a joined batch, for the
    base's logits): in a padded batch those rows; in a one row the tokens they are made of, which attend to
    nothing else, so their hidden states stay the same. Returns (row, feed without input_ids, below, keep)."""
    rows = keep.any(dim=1).nonzero().flatten()
    if row is None:
        return None, {"attention_mask": feed["attention_mask"][rows] if feed["attention_mask"] is not None else None}, \
            below[rows], keep[rows]
    lengths = mask.sum(dim=1).tolist() if mask is not None else [keep.shape[1] + 1] * len(keep)
    where = row["where"]
    tokens = torch.unique(torch.cat([where[r, :lengths[r]] for r in rows.tolist()]))  # sorted, so still causal
    index = torch.zeros(where.max().item() + 1, dtype=torch.long, device=where.device)
    index[tokens] = torch.arange(len(tokens), device=where.device)  # (other rows' tokens -> 0: never read, keep is False)
    feed = {"attention_mask": feed["attention_mask"][:, :, tokens][:, :, :, tokens], "position_ids": feed["position_ids"][:, tokens]}
    return {"where": index[where]}, feed, below[:, tokens], keep


def runs_as_one_row(causal_lm, batch: dict) -> bool:
    """Whether `labelled_hidden` runs this batch as one row (`pass_tokens` then counts its shared opening once)."""
    return has_fast_path(causal_lm) and one_row_is_exact(causal_lm.config, batch["input_ids"].shape[1], causal_lm.get_decoder())


def has_fast_path(causal_lm) -> bool:
    """Whether the output layer is a plain frozen matrix (no soft-capping as in Gemma 2, scaling as in Cohere or
    Granite, bias as in Phi-2), so that it can run at the labelled positions only."""
    config, head = causal_lm.config, causal_lm.get_output_embeddings()
    scaled = getattr(config, "logit_scale", None) or getattr(config, "logits_scaling", 1.0) not in (None, 1, 1.0)
    return not (getattr(config, "final_logit_softcapping", None) or scaled or head is None
                or getattr(head, "bias", None) is not None or head.weight.requires_grad)


def labelled_logits(model, inputs: dict, keep):
    """Vocabulary-wide logits (float32) at the positions that predict a labelled token."""
    causal_lm = _causal_lm(model)
    if has_fast_path(causal_lm):
        return (labelled_hidden(causal_lm, inputs, keep) @ causal_lm.get_output_embeddings().weight.T).float()
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask")).logits
    return logits[:, :-1][keep].float()


_UPPER_EXACT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> whether `base_logits` may skip the lower layers


@contextmanager
def lower_layers_kept(model):
    """A list that receives the hidden states entering the lowest trained layer in each pass inside the context
    (for `base_logits`); empty where the model has no frozen lower layers or its output layer no fast path."""
    causal_lm = _causal_lm(model)
    start = first_trained_layer(causal_lm) if has_fast_path(causal_lm) else 0
    if not start or _UPPER_EXACT.get(causal_lm) is False:
        yield []
        return
    with layer_input(causal_lm, start) as seen:
        yield seen


def base_logits(model, inputs: dict, keep, below: list):
    """The base model's logits (its adapter off, no gradient, float32) at the labelled positions of `inputs`.
    With `below` (from `lower_layers_kept` around the adapter's own pass over the same inputs) only the layers
    from the lowest trained one up run, the lower ones' hidden states being the same with the adapter off: the
    top 6 of 30 layers cost a fifth of the pass. The first time for each model the whole pass runs beside it, and
    the shortcut stays only if it gives the same logits."""
    causal_lm = _causal_lm(model)
    start = first_trained_layer(causal_lm)  # (before disable_adapter, which freezes the adapter's weights)
    with torch.no_grad(), _peft(model).disable_adapter():
        if not below or not start or _UPPER_EXACT.get(causal_lm) is False:
            return labelled_logits(model, inputs, keep)
        head = causal_lm.get_output_embeddings().weight
        upper = (labelled_hidden(causal_lm, inputs, keep, below[0], start) @ head.T).float()
        if causal_lm not in _UPPER_EXACT:
            whole = labelled_logits(model, inputs, keep)
            _UPPER_EXACT[causal_lm] = bool((upper - whole).abs().max() <= 1e-3 * whole.abs().max().clamp(min=1))
            return whole
        return upper


def replay_loss(model, replay: dict, kl_weight: float):
    """The replay rows' objective (`replay_objective`, fused as `replay_token_loss` where the output layer has the
    fast path); the base model's distribution comes from the same model with its adapter off (no gradient,
    `base_logits`), so nothing is loaded twice."""
    targets = replay["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    causal_lm = _causal_lm(model)
    fast = has_fast_path(causal_lm)
    with lower_layers_kept(model) if kl_weight else nullcontext([]) as below:
        out = labelled_hidden(causal_lm, replay, keep) if fast else labelled_logits(model, replay, keep)
    base = base_logits(model, replay, keep, below) if kl_weight else None
    if fast:
        return replay_token_loss(out, causal_lm.get_output_embeddings().weight, targets[keep], base, kl_weight)
    return replay_objective(out, base, targets[keep], kl_weight)


def with_replay(inputs: dict, replay: dict) -> dict:
    """The post rows and the replay rows as one right-padded batch, the replay rows last (`replay_rows`: how
    many), so that one forward and backward pass serves both: every pass reads all the model's weights."""
    width = max(inputs["input_ids"].shape[1], replay["input_ids"].shape[1])
    fills = {"input_ids": 0, "attention_mask": 0, "labels": IGNORE_INDEX}
    joined = {key: torch.cat([torch.nn.functional.pad(part[key], (0, width - part[key].shape[1]), value=fill)
                              for part in (inputs, replay)]) for key, fill in fills.items()}
    joined["replay_rows"] = replay["input_ids"].shape[0]
    return joined


def post_token_trainer(max_batch_tokens: int = 0, replay_share: float = 0.0, kl_weight: float = 0.0, replay_every: int = 1):
    """A Trainer that runs the output layer only where the loss is taken (the post's tokens), trains inside
    `lean_lora`, runs a batch's rows as `one_row`, and a batch of more than `max_batch_tokens` in parts (each
    loss divided by the whole batch's post-token count: the gradients add up to the same). With `replay_every`
    N > 1 the replay rows join every Nth batch only, weighted N x replay_share there: the same objective in
    expectation at 1/N of the cost. Post-processed logits, or an output layer that trains or has a bias, take
    the default path (`has_fast_path`)."""
    from transformers import Trainer
    replay_weight = replay_share * replay_every

    class PostTokenTrainer(Trainer):
        replay_terms: dict = {}  # the last training step's replay cross-entropy and KL (None without kl_weight)
        batches = 0  # training batches seen (replay_every counts them)

        def train(self, *args, **kwargs):
            with lean_lora(self.model):
                return super().train(*args, **kwargs)

        def _get_train_sampler(self, train_dataset=None):
            sampler = super()._get_train_sampler(train_dataset)
            if world_size() > 1 and hasattr(sampler, "batch_size"):  # length buckets of the global batch, as one process
                sampler.batch_size *= world_size()
            return sampler

        def training_step(self, model, inputs, num_items_in_batch=None):
            loss = self._step(model, inputs, num_items_in_batch)
            if world_size() > 1 and self.accelerator.sync_gradients:  # our loss does not run through DDP's forward
                average_gradients(self.model)
            return loss

        def _step(self, model, inputs, num_items_in_batch=None):
            self.batches += 1
            replay = inputs.pop("replay", None) if replay_share else None
            replay = replay if (self.batches - 1) % replay_every == 0 else None  # (popped either way)
            causal_lm = _causal_lm(model)
            if replay is not None and has_fast_path(causal_lm):
                joined = with_replay(inputs, replay)
                if fits(joined, max_batch_tokens, runs_as_one_row(causal_lm, joined)):  # posts and replay in one pass
                    loss = super().training_step(model, joined, num_items_in_batch)
                    return loss * self.posts_share_of_loss / (1 - replay_share)  # logged: the posts' own loss
            parts = split_batch(inputs, max_batch_tokens, runs_as_one_row(causal_lm, inputs))
            if len(parts) == 1:
                loss = super().training_step(model, inputs, num_items_in_batch)
            else:
                if num_items_in_batch is None:  # the Trainer's own default: a mean per batch, divided by the accumulation
                    num_items_in_batch = (inputs["labels"][:, 1:] != IGNORE_INDEX).sum() * self.current_gradient_accumulation_steps
                loss = sum(super(PostTokenTrainer, self).training_step(model, part, num_items_in_batch) for part in parts)
            if replay is None:  # (posts weighted 1 - replay_share in compute_loss; logged: their own loss)
                return loss / (1 - replay_share) if replay_share else loss
            super().training_step(model, {"replay": replay}, num_items_in_batch)  # its own backward
            return loss / (1 - replay_share)  # logged: the posts' own loss, as without replay

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            replay = inputs.pop("replay", None)
            if "input_ids" not in inputs:  # the replay rows of a training step
                total, ce, kl = replay_loss(model, replay, kl_weight)
                self.replay_terms = {"ce": float(ce), "kl": None if kl is None else float(kl)}
                self.loss_is_scaled_for_ga = True
                loss = replay_weight * total / self.current_gradient_accumulation_steps
                return (loss, {"loss": loss}) if return_outputs else loss
            if "replay_rows" in inputs:
                loss = joined_loss(self, model, inputs, num_items_in_batch, replay_share, replay_weight, kl_weight)
                return (loss, {"loss": loss}) if return_outputs else loss
            weight = 1 - replay_share if model.training else 1.0  # validation loss stays the posts' own
            causal_lm = _causal_lm(model)
            if not has_fast_path(causal_lm):
                out = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
                return (out[0] * weight, out[1]) if return_outputs else out * weight
            labels = inputs["labels"][:, 1:]
            keep = labels != IGNORE_INDEX
            loss = post_token_loss(labelled_hidden(causal_lm, inputs, keep), causal_lm.get_output_embeddings().weight, labels[keep])
            # Normalised over the post tokens of the whole accumulated batch when the Trainer counted them.
            self.loss_is_scaled_for_ga = num_items_in_batch is not None
            loss = weight * loss / (num_items_in_batch if num_items_in_batch is not None else keep.sum().clamp(min=1))
            if num_items_in_batch is not None:  # counted over every process's shard; the gradients are averaged
                loss = loss * world_size()
            return (loss, {"loss": loss}) if return_outputs else loss

    return PostTokenTrainer


def joined_loss(trainer, model, inputs: dict, num_items_in_batch, replay_share: float, replay_weight: float,
                kl_weight: float = 0.0):
    """The loss of posts and replay rows run in one pass (`with_replay`), each part weighted as in its own pass
    (posts 1 - replay_share, replay rows `replay_weight`, with the KL anchor when `kl_weight`);
    sets the trainer's replay_terms and posts_share_of_loss (for the logged loss)."""
    rows = inputs.pop("replay_rows")
    causal_lm = _causal_lm(model)
    labels = inputs["labels"][:, 1:]
    keep = labels != IGNORE_INDEX
    with lower_layers_kept(model) if kl_weight else nullcontext([]) as below:
        hidden = labelled_hidden(causal_lm, inputs, keep)
    targets = labels[keep]
    posts = int(keep[:len(keep) - rows].sum())
    weight, steps = causal_lm.get_output_embeddings().weight, trainer.current_gradient_accumulation_steps
    post_loss = (1 - replay_share) * post_token_loss(hidden[:posts], weight, targets[:posts])
    post_loss = post_loss / num_items_in_batch * world_size() if num_items_in_batch is not None else post_loss / max(posts, 1) / steps
    base = None
    if kl_weight:
        replay_keep = keep.clone()
        replay_keep[:len(keep) - rows] = False
        base = base_logits(model, inputs, replay_keep, below)
    replay_total, ce, kl = replay_token_loss(hidden[posts:], weight, targets[posts:], base, kl_weight)
    trainer.replay_terms = {"ce": float(ce.detach()), "kl": None if kl is None else float(kl)}
    loss = post_loss + replay_weight * replay_total / steps
    trainer.loss_is_scaled_for_ga = True
    trainer.posts_share_of_loss = float(post_loss.detach() / loss.detach()) if float(loss.detach()) else 1.0
    return loss


def _causal_lm(model):
    model = _peft(model)
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _peft(model):
    """The model inside DistributedDataParallel (training on several processes), else the model."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
