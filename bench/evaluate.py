"""Persona evaluation on the bundled SmolLM2-135M-Instruct (CPU): a short persona is trained on each
fixture, then `studio.evaluation.run.evaluate_persona` runs at the default settings (16 prompts, 64 new
tokens, the 40-question probe) through the shared chat engine, as `python -m studio eval` does.

    python bench/evaluate.py [--fixtures koume andre] [--steps 30] [--prompts 16]

Printed per fixture: training time (evaluation off), the evaluation's time split (model + adapter load,
held-out loss, replies, probe, style, memorisation) against the 180 s target, and its figures.
Baseline in the same run: the replies generated one at a time through `ChatEngine.stream` (the chat
path), timed on 2 prompts x (base, persona) and scaled to the run's 2 x prompts replies, against the
batched base+persona generation the evaluation uses.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = {"koume": ROOT.parent / "shared" / "fixtures" / "koume-dayuu-tweets.csv",
            "andre": ROOT.parent / "shared" / "fixtures" / "x-archive-andreruffert.zip"}
TARGET_S = 180


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", nargs="+", default=["koume"], choices=sorted(FIXTURES))
    parser.add_argument("--steps", type=int, default=30, help="training steps per persona")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--reuse", action="store_true", help="evaluate the personas already in $PERSONAS_DIR (no training)")
    args = parser.parse_args()
    os.environ.setdefault("PERSONAS_DIR", tempfile.mkdtemp(prefix="bench-eval-"))

    from transformers.utils import logging as hf_logging

    from studio.chat.engine import get_engine
    from studio.clean import clean_posts
    from studio.evaluation.config import EvalConfig
    from studio.chat.config import GenerationConfig
    from studio.training.config import TrainConfig
    from studio.evaluation.prompts import choose_prompts
    from studio.evaluation.run import evaluate_persona
    from studio.ingest import load_file
    from studio.persona.registry import PersonaRegistry
    from studio.training.run import train_persona

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    registry = PersonaRegistry()
    print(f"registry: {registry.root}; {os.cpu_count()} CPUs; torch threads {__import__('torch').get_num_threads()}")
    for fixture in args.fixtures:
        started = time.perf_counter()
        if not (args.reuse and registry.exists(fixture)):
            posts, report = clean_posts(load_file(FIXTURES[fixture]))
            train_persona(posts, fixture, TrainConfig(base_model="bundled", max_steps=args.steps, evaluate=False),
                          registry=registry, report=report, overwrite=True)
        trained_s = time.perf_counter() - started
        persona = registry.get(fixture)
        print(f"\n== {fixture}: {persona.data['kept']} posts kept, {persona.data['split']}, "
              f"trained {persona.metrics['steps']} steps in {persona.metrics['seconds']:.0f} s"
              + (" (reused)" if trained_s < 5 else ""))

        config = EvalConfig(prompts=args.prompts)
        started = time.perf_counter()
        result = evaluate_persona(fixture, config, registry)
        total = time.perf_counter() - started
        t = result["timings"]
        print(f"evaluation: {total:.1f} s (target {TARGET_S} s: {'PASS' if total <= TARGET_S else 'FAIL'}); "
              + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()))

        engine = get_engine("bundled")  # baseline: the chat path, one reply at a time
        settings = GenerationConfig(max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=0)
        timed = 0.0
        for _, prompt in choose_prompts(2, seed=1):
            for target in (None, persona):
                started = time.perf_counter()
                for _ in engine.stream(target, prompt, persona.system_prompt, settings=settings):
                    pass
                timed += time.perf_counter() - started
        sequential = timed / 4 * 2 * config.prompts
        print(f"replies, {2 * config.prompts} of up to {config.max_new_tokens} tokens: batched {t['replies']:.1f} s; "
              f"baseline one at a time (ChatEngine.stream, 4 timed, scaled): {sequential:.1f} s "
              f"({sequential / max(t['replies'], 1e-9):.1f}x)")

        print(f"summary: {result['summary']}")
        print(f"verdicts: {result['verdicts']}")
        loss = result["loss"]
        if loss:
            print(f"held-out loss base {loss['base']['loss']} -> persona {loss['persona']['loss']} "
                  f"(perplexity {loss['base']['perplexity']} -> {loss['persona']['perplexity']}, {loss['persona']['posts']} posts)")
        k = result["knowledge"]
        print(f"probe: base {k['base_correct']}/{k['questions']}, persona {k['persona_correct']}/{k['questions']} "
              f"(en {k['by_language']['en']}, ja {k['by_language']['ja']}); lost: {', '.join(k['lost']) or 'none'}")
        stats = result["style"]["stats"]
        for key in ("mean_chars", "share_with_emoji", "exclamations_per_text", "hashtags_per_text", "share_japanese", "ja_polite_share"):
            print(f"  {key:22} base {stats['base'].get(key)!s:>6}  persona {stats['persona'].get(key)!s:>6}  real {stats['real'].get(key)!s:>6}")
        print(f"  characteristic words: {result['style']['words']}")
        print(f"copies: {result['memorisation']['copied']} of {result['memorisation']['replies']} "
              f"(base {result['memorisation']['base_copy_rate']:.0%})")


if __name__ == "__main__":
    main()
