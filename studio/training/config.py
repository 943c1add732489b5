"""Training settings: one field per knob, with help text that the CLI and the Train tab show."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from studio.config import Settings, check, default_base

METHODS = ("auto", "lora", "qlora", "dora")


@dataclass
class TrainConfig(Settings):
    """Training settings; the defaults suit a few hundred to a few thousand short posts on a CPU."""

    base_model: str = field(
        default_factory=default_base,
        metadata={"help": "'bundled' (SmolLM2-135M-Instruct, offline), a local model folder or a Hub id."},
    )
    method: str = field(default="auto", metadata={"help": "'auto': QLoRA on a CUDA GPU, LoRA on a CPU; 'lora' (fp32 on CPU); 'qlora' (4-bit NF4, CUDA only); 'dora' (weight-decomposed LoRA)."})
    max_steps: int = field(default=60, metadata={"help": "Optimizer steps. 20-60 for a quick try, a few hundred for a real persona."})
    epochs: float = field(default=0.0, metadata={"help": "Passes over the posts; when above 0 it replaces max_steps."})
    learning_rate: float = field(default=4e-4, metadata={"help": "AdamW learning rate for the LoRA weights (4e-4 with the KL "
                                                                  "anchor; without it, 1e-4 kept the base's knowledge)."})
    scheduler: str = field(default="linear", metadata={"help": "Learning-rate schedule: 'linear', 'cosine' or 'constant' (after warm-up)."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Share of the steps spent warming the learning rate up."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay on the LoRA weights."})
    lora_plus_ratio: float = field(default=0.0, metadata={"help": "LoRA+: the B matrices learn this many times faster (e.g. 16); 0 = off."})
    rank: int = field(default=8, metadata={"help": "LoRA rank r: adapter capacity. 8-16 suits a few thousand posts."})
    alpha: int = field(default=0, metadata={"help": "LoRA alpha: scale of the update; 0 = 2 x rank."})
    dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA input. Off by default: measured here, 0.05 "
                                                   "gave the same validation loss and cost ~17 % more time and memory."})
    lora_layers: int = field(default=6, metadata={"help": "LoRA only on the top N decoder layers (the lower ones stay the base model's, "
                                                     "and the backward pass stops there: cheaper steps); 0 = every layer."})
    rslora: bool = field(default=False, metadata={"help": "rsLoRA: scale the update by alpha / sqrt(rank) instead of alpha / rank "
                                                   "(steadier at high ranks)."})
    replay_share: float = field(default=0.25, metadata={"help": "Share of each batch's rows that are the base model's own answers to "
                                                           "everyday requests (studio/training/replay.json, generated once per base "
                                                           "model and cached), so the persona keeps what the base knew; 0 = off."})
    replay_chat: bool = field(default=True, metadata={"help": "Replay also the small-talk, feelings and opinion requests "
                                                       "(the register the persona should take over from the base); off = replay only "
                                                       "the task requests (advice, how-to, writing, planning, cooking, work, study)."})
    replay_every: int = field(default=2, metadata={"help": "Replay rows join every Nth batch only, weighted N times there: the "
                                                     "same mix in expectation at 1/N of the replay's cost (a replay row is "
                                                     "longer than a post's)."})
    kl_weight: float = field(default=16.0, metadata={"help": "KL anchor: on the replay rows, add this weight x KL(base || persona) of the "
                                                        "next-token distribution (the base = the adapter off, from the lowest adapted "
                                                        "layer up); 0 = off. No replay rows (replay_share 0): no anchor."})
    style_line: bool = field(default=True, metadata={"help": "Without a system prompt of your own, the default one is 'You are NAME.' and "
                                                      "a line on how they write, from their posts (e.g. 'Reply "
                                                      "like one of your posts: one short, casual line.'; for Japanese posts a Japanese "
                                                      "line, plain or polite form as most of their sentences end); off = 'You are NAME.' only."})
    target_modules: str = field(default="all-linear", metadata={"help": "Layers that get adapters: 'all-linear' (every linear projection, found automatically) or names like 'q_proj,v_proj'."})
    batch_size: int = field(default=4, metadata={"help": "Posts per step."})
    processes: int = field(default=1, metadata={"help": "Train on this many processes (DDP under accelerate: one per GPU, or CPU processes with gloo); each takes batch_size / processes rows of every batch, so the global batch and the steps stay those of one process."})
    grad_accum: int = field(default=1, metadata={"help": "Gradient accumulation: batches per optimizer step."})
    max_batch_tokens: int = field(default=1024, metadata={"help": "A step of more tokens than this (rows x longest row; where the rows run as one row, their lengths with the opening they share counted once) runs in parts whose gradients add up: the same update, less peak memory; 0 = off. Each part reads all the model's weights again: on the Japanese fixture 1024 was 6 % faster than 512 (4 long posts in one pass, not two)."})
    max_length: int = field(default=256, metadata={"help": "Tokens per example (system + user + post); longer ones are cut. Japanese posts take about 1.7 tokens per character with SmolLM2."})
    eval_steps: int = field(default=50, metadata={"help": "Validation loss every this many steps (and a checkpoint); 0 = off."})
    eval_posts: int = field(default=64, metadata={"help": "Validation posts scored at each evaluation (a fixed sample, to keep it quick); 0 = all."})
    patience: int = field(default=3, metadata={"help": "Early stopping: stop after this many evaluations without a better validation loss, and keep the best adapter; 0 = off."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Recompute activations to save GPU memory (slower; for large base models)."})
    seed: int = field(default=0, metadata={"help": "Seed for data order, prompts and initialisation."})
    consent: str = field(default="", metadata={"help": "Consent statement: who agreed to this persona and when (e.g. 'Koume agreed in person on 2026-11-30'). Stored in persona.json and the model card; push refuses a persona without one."})
    evaluate: bool = field(default_factory=lambda: os.environ.get("STUDIO_EVALUATE", "1") != "0", metadata={"help": "Evaluate the persona when training ends (style, copying, held-out loss, knowledge probe; about a minute on the bundled model). Default on; STUDIO_EVALUATE=0 turns the default off."})
    probe_steps: int = field(default=20, metadata={"help": "Every this many steps, ask a quick subset of the knowledge probe and report its accuracy (forgetting shows as it happens); 0 = off."})
    probe_stop_drop: float = field(default=0.2, metadata={"help": "Stop training when the quick probe's accuracy falls this far below its value before training (e.g. 0.25); 0 = off. Needs probe_steps."})

    def __post_init__(self):
        self._coerce()
        check(self.base_model.strip() != "", "base_model is empty: use 'bundled', a local folder or a Hub id.")
        check(self.method in METHODS, f"method must be one of {', '.join(METHODS)}, got {self.method!r}.")
        check(1 <= self.max_steps <= 100_000, f"max_steps must be between 1 and 100000, got {self.max_steps}.")
        check(0 <= self.epochs <= 100, f"epochs must be between 0 (use max_steps) and 100, got {self.epochs}.")
        check(0 < self.learning_rate <= 0.1, f"learning_rate must be in (0, 0.1], got {self.learning_rate}; try 2e-4 to 1e-3.")
        check(self.scheduler in ("linear", "cosine", "constant"), f"scheduler must be 'linear', 'cosine' or 'constant', got {self.scheduler!r}.")
        check(0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}.")
        check(0 <= self.weight_decay < 1, f"weight_decay must be in [0, 1), got {self.weight_decay}.")
        check(self.lora_plus_ratio == 0 or 1 <= self.lora_plus_ratio <= 64, f"lora_plus_ratio must be 0 (off) or between 1 and 64, got {self.lora_plus_ratio}.")
        check(1 <= self.rank <= 256, f"rank must be between 1 and 256, got {self.rank}; try 8 or 16.")
        self.alpha = self.alpha or 2 * self.rank
        check(self.alpha >= 1, f"alpha must be at least 1 (or 0 for 2 x rank), got {self.alpha}.")
        check(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}.")
        check(0 <= self.lora_layers <= 1000, f"lora_layers must be between 0 (every layer) and 1000, got {self.lora_layers}.")
        check(0 <= self.replay_share < 1, f"replay_share must be in [0, 1) (a share of each batch), got {self.replay_share}; try 0.25.")
        check(1 <= self.replay_every <= 64, f"replay_every must be between 1 (every batch) and 64, got {self.replay_every}.")
        check(0 <= self.kl_weight <= 100, f"kl_weight must be between 0 (off) and 100, got {self.kl_weight}; try 16 (the default).")
        check(self.target_modules.strip() != "", "target_modules is empty: use 'all-linear' or names like 'q_proj,v_proj'.")
        check(1 <= self.batch_size <= 512, f"batch_size must be between 1 and 512, got {self.batch_size}.")
        check(1 <= self.processes <= 64, f"processes must be between 1 and 64, got {self.processes}.")
        check(self.batch_size % self.processes == 0, f"batch_size ({self.batch_size}) must split evenly over {self.processes} "
              f"processes: use a batch_size that is a multiple of {self.processes}.")
        check(1 <= self.grad_accum <= 256, f"grad_accum must be between 1 and 256, got {self.grad_accum}.")
        check(self.max_batch_tokens == 0 or self.max_batch_tokens >= 16, f"max_batch_tokens must be 0 (off) or at least 16, got {self.max_batch_tokens}.")
        check(16 <= self.max_length <= 8192, f"max_length must be between 16 and 8192 tokens, got {self.max_length}.")
        check(0 <= self.eval_steps <= 100_000, f"eval_steps must be between 0 (off) and 100000, got {self.eval_steps}.")
        check(0 <= self.eval_posts <= 100_000, f"eval_posts must be between 0 (all) and 100000, got {self.eval_posts}.")
        check(0 <= self.patience <= 100, f"patience must be between 0 (off) and 100, got {self.patience}.")
        check(0 <= self.probe_steps <= 100_000, f"probe_steps must be between 0 (off) and 100000, got {self.probe_steps}.")
        check(0 <= self.probe_stop_drop <= 1, f"probe_stop_drop must be between 0 (off) and 1 (a share of questions), got {self.probe_stop_drop}.")
        check(not self.consent.strip() or len(self.consent.strip()) >= 8, f"The consent statement {self.consent!r} is too short: "
              "say who agreed and when, e.g. 'Koume agreed in person on 2026-11-30'.")
        self.base_model = self.base_model.strip()

    def targets(self) -> str | list[str]:
        names = [n.strip() for n in self.target_modules.split(",") if n.strip()]
        return "all-linear" if names == ["all-linear"] else names
