"""Running as a Hugging Face Space: persistent storage, ZeroGPU and what training may do there.

- Storage: `config.personas_dir()` puts the registry in `/data/personas` when the Space has
  persistent storage (`/data`) and `PERSONAS_DIR` is unset.
- Token: the Space secret `HF_TOKEN` is an environment variable; `studio.persona.hub` reads it per call.
- ZeroGPU: `gpu(fn)` decorates a generation handler with `spaces.GPU` when the `spaces` package
  is importable (it is on Spaces), and returns `fn` unchanged elsewhere.
- Training runs for many minutes in a background process, which ZeroGPU's per-call GPU slices
  cannot host: on a Space it is allowed only with a persistent CUDA GPU (or STUDIO_ALLOW_TRAINING=1).
"""

from __future__ import annotations

import importlib
import os

from studio.errors import ConfigError

GPU_SECONDS = 120  # the longest a chat reply may hold a ZeroGPU slice


def on_spaces() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def zero_gpu() -> bool:
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


def gpu(fn, duration: int = GPU_SECONDS):
    """`spaces.GPU(duration=...)(fn)` when the `spaces` package is present, else `fn` itself."""
    try:
        spaces = importlib.import_module("spaces")
    except ImportError:
        return fn
    return spaces.GPU(duration=duration)(fn)


def training_disabled_reason() -> str | None:
    """Why training is off here (None: it is allowed)."""
    if not on_spaces() or os.environ.get("STUDIO_ALLOW_TRAINING", "").lower() in ("1", "true"):
        return None
    if zero_gpu():
        return ("Training is disabled on this ZeroGPU Space: ZeroGPU lends a GPU for a few minutes per call, and a "
                "training run needs one for much longer. Train on your machine (python -m studio train ...) and "
                "pull the persona from the Hub here, or duplicate this Space on a persistent GPU.")
    from studio.models import cuda_available

    if not cuda_available():
        return ("Training is disabled on this Space: it has no GPU, and CPU training would take the shared Space for "
                "a long time. Duplicate the Space on GPU hardware (or set STUDIO_ALLOW_TRAINING=1), or train locally "
                "and pull the persona from the Hub.")
    return None


def check_training_allowed() -> None:
    reason = training_disabled_reason()
    if reason:
        raise ConfigError(reason)
