"""studio.files: the one atomic write, staged folders and JSON lines."""

import json
import threading

import pytest

from studio import files


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "sub" / "status.json"
    files.write_json(target, {"status": "queued"})
    assert json.loads(target.read_text()) == {"status": "queued"}
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            tmp.write_text('{"status": "runn')  # half written, then the writer fails
            raise RuntimeError("crash")
    assert json.loads(target.read_text()) == {"status": "queued"}  # the old file, untouched
    assert [p.name for p in target.parent.iterdir()] == ["status.json"]  # no temporary left behind


def test_concurrent_writers_never_share_a_temporary_file(tmp_path):
    target = tmp_path / "status.json"
    errors = []

    def writer(n):
        try:
            for i in range(50):
                files.write_json(target, {"writer": n, "i": i, "pad": "x" * 2000})
        except Exception as exc:  # a shared temp name shows as FileNotFoundError on replace
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads(target.read_text())["i"] == 49
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_staged_dir_appears_complete_or_not_at_all(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(ValueError):
        with files.staged_dir(target) as staging:
            (staging / "config.json").write_text("{}")
            raise ValueError("conversion failed")
    assert list(tmp_path.iterdir()) == []
    with files.staged_dir(target) as staging:
        (staging / "config.json").write_text("{}")
        assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and (target / "config.json").is_file()


def test_jsonl_round_trip_skips_a_half_written_line(tmp_path):
    path = tmp_path / "progress.jsonl"
    assert files.read_jsonl(path) == []
    files.write_jsonl(path, [{"event": "start", "text": "今日は〜"}])
    files.append_jsonl(path, {"event": "step", "step": 1})
    with path.open("a", encoding="utf-8") as f:
        f.write('{"event": "st')  # a writer killed mid-line
    assert files.read_jsonl(path) == [{"event": "start", "text": "今日は〜"}, {"event": "step", "step": 1}]
    assert "今日は〜" in path.read_text(encoding="utf-8")  # written as UTF-8, not escaped
