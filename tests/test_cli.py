"""The CLI as a user runs it: subprocesses, exit codes, one JSON line with --json, no tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KOUME_CSV

ROOT = Path(__file__).resolve().parent.parent


def studio(*args, env=None, cwd=ROOT):
    result = subprocess.run([sys.executable, "-m", "studio", *map(str, args)], capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("command", ["ingest", "train", "list", "chat"])
def test_every_command_has_help(command):
    result = studio(command, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout


def test_ingest_writes_posts_and_report(tmp_path):
    out, report = tmp_path / "posts.jsonl", tmp_path / "report.json"
    result = studio("ingest", KOUME_CSV, "--out", out, "--report", report)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("4406 loaded, 4238 kept (removed: 41 links only, 13 too short, 100 duplicates, 14 near duplicates)")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4238 and "チクショー" in json.loads(lines[0])["text"]
    saved = json.loads(report.read_text())
    assert saved["removed"]["duplicates"] == 100 and saved["steps"]["unicode"]["changed"] > 1000
    assert saved["stats"]["date_range"] == ["2011-10-16", "2021-09-25"]


def test_ingest_cleaning_options(tmp_path):
    out = tmp_path / "posts.jsonl"
    result = studio("ingest", KOUME_CSV, "--out", out, "--replies", "drop", "--no-near-duplicates", "--max-run", "0")
    assert result.returncode == 0, result.stderr
    assert "70 replies" in result.stdout and "near duplicates" not in result.stdout
    bad = studio("ingest", KOUME_CSV, "--out", out, "--mentions", "sometimes")
    assert bad.returncode == 2 and "mentions must be" in bad.stderr


def test_train_list_chat_round_trip(tiny_model_dir, posts_file, tmp_path):
    env = {"PERSONAS_DIR": str(tmp_path / "reg"), "STUDIO_BASE_MODEL": str(tiny_model_dir)}
    trained = studio("train", "--posts", posts_file, "--name", "Cli Persona", "--max-steps", 3, "--json", env=env)
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout.strip().splitlines()[-1])
    assert summary["persona"] == "cli-persona" and summary["steps"] == 3 and summary["posts_used"] == 8
    assert summary["seconds"] > 0 and summary["final_loss"] > 0
    assert "training Cli Persona" in trained.stderr  # the tqdm bar

    listed = studio("list", "--json", env=env)
    assert [p["slug"] for p in json.loads(listed.stdout)] == ["cli-persona"]

    for target in ("cli-persona", "base"):
        chat = studio("chat", target, "今日はどうだった？", "--max-new-tokens", 5, "--seed", 1, "--json", env=env)
        assert chat.returncode == 0, chat.stderr
        answer = json.loads(chat.stdout.strip().splitlines()[-1])
        assert answer["target"] == target and answer["reply"] and answer["seconds"] > 0

    side = studio("chat", "--compare", "base,cli-persona", "hello", "--max-new-tokens", 6, "--greedy", env=env)
    assert side.returncode == 0, side.stderr
    header = side.stdout.splitlines()[0].split("|")
    assert [h.strip() for h in header] == ["base", "cli-persona"] and len(side.stdout.splitlines()) >= 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--posts", "{empty}", "--name", "x"], "no usable text"),
        (["train", "--posts", "{posts}", "--name", "../x"], "Invalid persona name"),
        (["train", "--posts", "{posts}", "--name", "x", "--max-steps", "0"], "max_steps must be"),
        (["train", "--posts", "{posts}", "--name", "x", "--base", "/no/such/model"], "not a model folder"),
        (["train", "--posts", "{posts}", "--name", "x", "--base", "someone/missing-model"], "cannot be downloaded"),
        (["chat", "ghost", "hi"], "No persona named 'ghost'"),
        (["ingest", "{table}", "--out", "{out}"], "no text column found"),
    ],
)
def test_bad_input_clear_message_nothing_written(tmp_path, posts_file, args, message):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    paths = {"empty": tmp_path / "empty.txt", "posts": posts_file, "table": tmp_path / "table.csv", "out": tmp_path / "o.jsonl"}
    registry = tmp_path / "reg"
    result = studio(*[a.format(**paths) for a in args], env={"PERSONAS_DIR": str(registry)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and message in result.stderr
    assert not (tmp_path / "o.jsonl").exists()
    assert not registry.exists() or not [p for p in registry.iterdir() if not p.name.startswith(".")]
    assert not (registry / ".jobs").exists() or not list((registry / ".jobs").glob("*/request.json"))
