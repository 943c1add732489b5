"""bench/quality.py on the tiny model: a table per input, one row per option set, the figures numeric."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from studio.errors import InputError

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _module(name: str):
    import sys

    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _posts_file(tmp_path: Path) -> Path:
    import random

    rng = random.Random(0)
    words = ("coffee parsers keyboards rain builds tools trains cats tea maps shipped tiny fix blog morning code "
             "friday weekend music books garden bike lunch bugs release tests music walk night city").split()
    lines = [json.dumps({"text": " ".join(rng.choice(words) for _ in range(rng.randint(8, 14))).capitalize() + "."})
             for _ in range(40)]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_quality_bench_table(tiny_model_dir, tmp_path, capsys):
    quality = _module("quality")
    out_json = tmp_path / "rows.json"
    out = quality.main([str(_posts_file(tmp_path)), "--fixtures", "--base", str(tiny_model_dir), "--quick",
                        "--steps", "2", "--prompts", "2", "--loss-posts", "4", "--seed-steps", "1",
                        "--config", "r4:rank=4,learning_rate=1e-3", "--json", str(out_json)])
    rows = out["tiny"]["rows"]
    assert [r["name"] for r in rows[:2]] == ["seed recipe", "defaults@2026-12-01"] and rows[-1]["name"] == "r4"
    assert rows[-1]["config"]["rank"] == 4 and rows[0]["config"]["target_modules"] == "q_proj,v_proj"
    for row in rows:
        assert row["steps"] == 2 and row["posts_per_s"] > 0 and row["x_seed"] > 0
        assert row["knowledge"]["known"] >= 0 and 0 <= row["copy_rate"] <= 1
        assert row["loss"]["base"] > 0 and row["loss"]["persona"] > 0 and row["train_minutes"] > 0
    seed = out["tiny"]["seed"]
    assert len(seed["runs"]) == 2 and seed["posts_per_s"] == max(seed["runs"]) > 0  # before and after the option sets
    printed = capsys.readouterr().out
    table = printed[printed.index("### tiny"):]
    for name in ("seed recipe", "defaults@2026-12-01", "r4", "target"):
        assert f"| {name}" in table
    assert json.loads(out_json.read_text())["fixtures"]["tiny"]["rows"][0]["name"] == "seed recipe"


def test_config_option_parsing():
    options = _module("quality_options")
    assert options.parse_config("x:rank=4,learning_rate=1e-3,gradient_checkpointing=yes") == (
        "x", {"rank": 4, "learning_rate": 1e-3, "gradient_checkpointing": True})
    with pytest.raises(InputError, match="not a TrainConfig field"):
        options.parse_config("x:rnak=4")
    with pytest.raises(InputError, match="rank must be an integer"):
        options.parse_config("x:rank=four")
    seed, old = options.option_sets("bundled", [])[:2]
    assert seed.config.rank == 16 and seed.config.learning_rate == 2e-4 and old.config.rank == 8
