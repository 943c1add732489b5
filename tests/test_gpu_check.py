"""bench/gpu_check.py --dry-run, in a subprocess where the packages the bare GPU machine lacks cannot be imported:
the script runs every step on the CPU with tiny sizes and prints its one table, so it cannot rot unseen.

The block is `sys.modules[name] = None` in a sitecustomize.py on PYTHONPATH (so the script's own pytest
subprocess is blocked too): `import gradio` then raises ModuleNotFoundError and `importlib.util.find_spec`
answers None, as for a package that is not installed. (A finder on sys.meta_path can only raise, and
transformers asks find_spec whether a package is there.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ABSENT = ("gradio", "datasets", "gguf")  # never on the GPU machine; bitsandbytes comes from a carried wheel
SITECUSTOMIZE = """import os, sys
for name in os.environ["GPU_CHECK_ABSENT"].split(","):
    sys.modules[name] = None  # not installed, as far as import and importlib.util.find_spec can tell
"""


def dry_run(tmp_path: Path, absent: tuple) -> tuple[str, dict]:
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "GPU_CHECK_ABSENT": ",".join(absent)}
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--dry-run"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    rows = {}
    for line in done.stdout.splitlines():
        cells = [cell.strip() for cell in line.split(" | ")]
        if len(cells) == 3 and cells[0] != "check":
            rows[cells[0]] = cells[1:]
    return done.stdout, rows


def test_the_blocker_blocks(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "GPU_CHECK_ABSENT": "gradio,bitsandbytes"}
    code = ("import importlib.util, transformers\n"
            "from transformers.utils import is_bitsandbytes_available\n"
            "assert importlib.util.find_spec('gradio') is None and not is_bitsandbytes_available()\n"
            "try:\n    import gradio\nexcept ModuleNotFoundError:\n    print('blocked')\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "blocked", done.stderr[-2000:]


@pytest.mark.parametrize("absent", [ABSENT, ABSENT + ("bitsandbytes",)], ids=["wheel-installed", "bare"])
def test_dry_run_prints_one_table_without_the_absent_packages(tmp_path, absent):
    out, rows = dry_run(tmp_path, absent)
    assert out.count("\ncheck ") == 1 and "--dry-run: CPU" in out
    assert rows["build models from configs"][0] == "ok"
    for shape in ("SmolLM2-135M", "Qwen2-1.5B"):
        status, figures = rows[f"train fp32 LoRA (CPU), {shape}"]
        assert status == "ok" and "posts/s" in figures
        status, figures = rows[f"train QLoRA NF4, {shape}"]
        assert (status, "bitsandbytes" in figures) == (("skipped", True) if "bitsandbytes" in absent else ("ok", False))
    status, figures = rows["QLoRA correctness, tiny Llama"]
    assert status == ("skipped" if "bitsandbytes" in absent else "ok"), figures
    status, figures = rows["three-pane chat, SmolLM2-135M shape"]
    assert status == "ok" and "one batch" in figures
    assert rows["pytest -m gpu"][0] == "ok" and "3 skipped" in rows["pytest -m gpu"][1]
