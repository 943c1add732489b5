"""Write the bundled model's replay answers that ship in studio/training/replay_cache/ (run it after
replay.json, REPLAY_TOKENS or REPLAY_SYSTEM change; a stale file is never read: its name is the key's hash).
Prints what a first training on the bundled model would spend writing them without the shipped file.

    python bench/replay_answers.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from studio.files import write_json
    from studio.models import load_model, load_tokenizer, resolve_base
    from studio.training.replay import SHIPPED_DIR, cache_path, generate_answers

    ref = resolve_base("bundled")
    tokenizer, model = load_tokenizer(ref), load_model(ref)
    key = ref.to_json()
    started = time.perf_counter()
    answers = generate_answers(model, tokenizer)
    seconds = time.perf_counter() - started
    target = write_json(SHIPPED_DIR / cache_path(key).name, {"base": key, "answers": answers}, indent=1)
    for stale in SHIPPED_DIR.glob("*.json"):
        if stale != target:
            stale.unlink()  # one shipped file, the current key's, removed only once the new one is written
    print(f"{len(answers)} answers in {seconds:.0f} s (what a first training on the bundled model saves) -> {target}")


if __name__ == "__main__":
    main()
