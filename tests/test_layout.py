"""Architecture rules: rooms import one way, no private names across modules, no cycles, readable sizes;
only studio.ui imports gradio; importing the app loads no model."""

import ast
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


# The rooms of studio/, lowest first: a module imports only from its own room or from a lower one.
LAYERS = (
    ("errors",),
    ("config", "files", "events"),
    ("ingest", "models"),
    ("clean", "space"),
    ("chat_format",),  # asks each post in its own script (studio.clean.text)
    ("persona",),
    ("catalog",),
    ("chat", "serve"),
    ("evaluation",),
    ("training",),
    ("cli", "ui"),
    ("__main__",),
)
LAYER = {room: n for n, rooms in enumerate(LAYERS) for room in rooms}


def studio_modules() -> dict[str, ast.Module]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): ast.parse(p.read_text("utf-8"))
            for p in (ROOT / "studio").rglob("*.py")}


def imports(modules: dict[str, ast.Module]):
    """(importer, imported module, imported names) for every studio import, at module level or deferred."""
    for name, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "studio":
                for alias in node.names:  # `from studio.chat import engine` imports the module studio.chat.engine
                    sub = f"{node.module}.{alias.name}"
                    yield name, sub if sub in modules else node.module, alias.name
            elif isinstance(node, ast.Import):
                yield from ((name, a.name, None) for a in node.names if a.name.split(".")[0] == "studio")


def room(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_imports_go_one_way():
    wrong = [f"{a} imports {b}" for a, b, _ in imports(studio_modules())
             if room(b) and room(a) != room(b) and LAYER[room(b)] >= LAYER[room(a)]]
    assert set(LAYER) >= {room(m) for m in studio_modules() if room(m)}, "every room has a layer"
    assert wrong == [], "ui/cli -> training -> evaluation -> chat -> persona -> clean -> ingest/models -> files -> errors"


def test_no_private_name_imported_from_another_module():
    private = [f"{a}: {b}.{n}" for a, b, n in imports(studio_modules())
               if n and n.startswith("_") and not n.startswith("__") and a != b]
    assert private == [], "ask for a public function instead"


def test_no_import_cycles():
    modules = studio_modules()
    edges: dict[str, set[str]] = {}
    for a, b, _ in imports(modules):
        if b in modules and b != a and not a.startswith(b + ".") and not b.startswith(a + "."):
            edges.setdefault(a, set()).add(b)
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_files_and_functions_read_in_one_sitting():
    long_files = [p.name for p in (ROOT / "studio").rglob("*.py") if len(p.read_text("utf-8").splitlines()) > 400]
    long_functions = [f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
                      for name, tree in studio_modules().items() for node in ast.walk(tree)
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80]
    assert long_files == [] and long_functions == []
