"""Architecture rules: only studio.ui imports gradio; importing the app loads no model."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_core_does_not_import_gradio():
    modules = [p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
               for p in (ROOT / "studio").rglob("*.py") if "ui" not in p.parts and p.name != "__main__.py"]
    out = run(f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\nprint('gradio' in sys.modules)")
    assert out.strip() == "False"


def test_app_import_builds_ui_without_loading_a_model():
    out = run(
        "import app, gc, torch\n"
        "from transformers import PreTrainedModel\n"
        "import studio.chat.engine as chat\n"
        "print(type(app.demo).__name__, len(chat._engines),"
        " sum(isinstance(o, PreTrainedModel) for o in gc.get_objects()))"
    )
    assert out.split() == ["Blocks", "0", "0"]
