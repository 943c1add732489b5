"""The registry, sharing and Hub commands of the CLI, and chatting with an earlier version (NAME@vN)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.persona.registry import PersonaRegistry

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_manage_a_persona_from_the_cli(capsys, tiny_persona, tmp_path):
    PersonaRegistry().update("tiny", evaluation={"summary": "style 0.7", "markdown": "| a | b |"})
    code, out, _ = run(capsys, "list")
    assert code == 0 and "tiny" in out and "v1" in out and "adapter=" in out and "eval: style 0.7" in out
    code, out, _ = run(capsys, "list", "--json")
    row = json.loads(out)[0]
    assert row["version"] == 1 and row["adapter_mb"] > 0 and row["evaluation"] == "style 0.7" and row["posts"] == 8
    code, out, _ = run(capsys, "show", "tiny")
    assert code == 0 and "8 kept" in out and "### Training" in out and "style 0.7" in out

    archive = tmp_path / "tiny.zip"
    assert run(capsys, "export", "tiny", "--out", archive)[0] == 0 and archive.is_file()
    code, out, _ = run(capsys, "import", archive, "--overwrite")  # same name: becomes v2, v1 kept
    assert code == 0 and "(v2)" in out
    code, out, _ = run(capsys, "versions", "tiny", "--json")
    assert [(v["ref"], v["current"]) for v in json.loads(out)] == [("tiny@v2", True), ("tiny@v1", False)]
    assert run(capsys, "restore", "tiny@v1")[0] == 0 and PersonaRegistry().get("tiny").version == 1
    code, out, _ = run(capsys, "versions", "tiny", "--json")
    assert [(v["ref"], v["current"]) for v in json.loads(out)] == [("tiny@v1", True), ("tiny@v2", False)]
    assert run(capsys, "rename", "tiny", "Tiny Two")[0] == 0 and PersonaRegistry().exists("tiny-two")
    assert run(capsys, "delete", "tiny-two@v2")[0] == 0
    assert [p.version for p in PersonaRegistry().versions("tiny-two")] == [1]
    code, out, _ = run(capsys, "export", "tiny-two", "--character-card", "--out", tmp_path / "card.json")
    assert json.loads((tmp_path / "card.json").read_text())["spec"] == "chara_card_v2"
    code, out, _ = run(capsys, "card", "tiny-two", "--print")
    assert "library_name: peft" in out and "style 0.7" in out
    assert run(capsys, "delete", "tiny-two")[0] == 0 and PersonaRegistry().list() == []


@pytest.mark.parametrize("args, message", [
    (["show", "nobody"], "No persona named 'nobody'"),
    (["rename", "nobody", "x"], "No persona named"),
    (["restore", "tiny"], "Say which version: NAME@vN"),
    (["restore", "tiny@v9"], "has no version v9"),
    (["restore", "tiny@v1"], "already the current version"),
    (["delete", "tiny@v1"], "current version"),
    (["import", "missing.zip"], "not a .zip"),
    (["push", "tiny", "--repo", "alice/x"], "No Hugging Face token"),
    (["pull", "not a repo"], "not a Hub repo name"),
])
def test_errors_are_one_line_exit_2(capsys, tiny_persona, monkeypatch, args, message):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    code, _, err = run(capsys, *args)
    assert code == 2 and err.startswith("error: ") and message in err and "Traceback" not in err


def test_chat_with_an_earlier_version_generates_tokens(tiny_persona, tmp_path):
    """The chat engine loads `persona.adapter_dir`: for tiny@v1 that is the version folder."""
    registry = PersonaRegistry()
    with registry.create(registry.get("tiny"), overwrite=True) as staging:  # a v2 (same files, other adapter)
        (staging / "adapter").mkdir()
        for file in tiny_persona.adapter_dir.iterdir():
            (staging / "adapter" / file.name).write_bytes(file.read_bytes())
    assert registry.get("tiny@v1").adapter_dir == tiny_persona.path / "versions" / "1" / "adapter"
    env = {**os.environ, "PERSONAS_DIR": str(registry.root), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "studio", "chat", "tiny@v1", "Hello", "--max-new-tokens", "4",
                             "--temperature", "0", "--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["target"] == "tiny@v1" and answer["reply"]
