"""Real or bot? under load: N judges at once (threads, each its own gradio_client session) over the page alone,
each taking M rounds (a round = /round then a vote), beside one judge at a time in the same run.

    flock /tmp/tests.lock python bench/real_or_bot_load.py [--persona NAME] [--judges 20] [--rounds 5]

Without --persona it trains one from the koume fixture on the bundled model (2 steps, its own process, in a
temporary registry) and writes its reply pool first: the figures are the page's, not generation's (a round
takes its reply from the pool). Target: zero errors with 20 judges; p50/p95 of a request and rounds/s."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
POSTS = ROOT.parent / "shared" / "fixtures" / "koume-dayuu-tweets.csv"


def setup(persona: str | None, pool: int) -> str:
    if persona is None:
        os.environ["PERSONAS_DIR"] = tempfile.mkdtemp(prefix="rob-bench-")
        subprocess.run([sys.executable, "-m", "studio", "train", "--posts", str(POSTS), "--name", "koume", "--max-steps", "2",
                        "--no-evaluate"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        persona = "koume"
    from studio.chat.real_or_bot import RealOrBot

    rob = RealOrBot()
    started = time.perf_counter()
    added = rob.fill_pool(persona, limit=pool)
    print(f"pool: {added} replies written ahead in {time.perf_counter() - started:.1f} s "
          f"({rob.pooled(persona)} ready, {len(rob.openings(rob.registry.get(persona)))} held-out posts)")
    return persona


def judge(url: str, rounds: int, times: list, errors: list, lock: threading.Lock) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # counted, never hidden
        with lock:
            errors.append(f"connect: {exc}")
        return
    for n in range(rounds):
        for endpoint in ("/round", "/vote_a" if n % 2 else "/vote_b"):
            started = time.perf_counter()
            try:
                client.predict(None, api_name=endpoint)
            except Exception as exc:
                with lock:
                    errors.append(f"{endpoint}: {exc}")
                continue
            with lock:
                times.append(time.perf_counter() - started)


def run(url: str, judges: int, rounds: int, at_once: bool) -> dict:
    times, errors, lock = [], [], threading.Lock()
    threads = [threading.Thread(target=judge, args=(url, rounds, times, errors, lock)) for _ in range(judges)]
    started = time.perf_counter()
    if at_once:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for t in threads:
            t.start()
            t.join()
    seconds = time.perf_counter() - started
    times.sort()
    return {"requests": len(times), "errors": errors, "seconds": seconds, "rounds_per_s": len(times) / 2 / seconds,
            "p50": statistics.median(times) if times else float("nan"),
            "p95": times[min(len(times) - 1, int(0.95 * len(times)))] if times else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persona", help="a persona of the registry (default: train one from the koume fixture)")
    parser.add_argument("--judges", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per judge (at most 10: the rate limit is 10 votes a minute)")
    parser.add_argument("--pool", type=int, default=16, help="replies to write ahead")
    args = parser.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    persona = setup(args.persona, max(args.pool, args.rounds))

    from studio.ui.real_or_bot_tab import page

    demo = page(persona)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    url = demo.local_url
    try:
        baseline = run(url, 4, args.rounds, at_once=False)
        loaded = run(url, args.judges, args.rounds, at_once=True)
    finally:
        demo.close()
    print(f"{'':28} {'requests':>8} {'errors':>6} {'rounds/s':>8} {'p50 ms':>7} {'p95 ms':>7}")
    for label, r in (("1 judge at a time (x4)", baseline), (f"{args.judges} judges at once", loaded)):
        print(f"{label:28} {r['requests']:>8} {len(r['errors']):>6} {r['rounds_per_s']:>8.1f} "
              f"{r['p50'] * 1000:>7.0f} {r['p95'] * 1000:>7.0f}")
    for error in (baseline["errors"] + loaded["errors"])[:5]:
        print("error:", error)
    ok = not baseline["errors"] and not loaded["errors"]
    print(("OK " if ok else "MISSED") + f" zero errors with {args.judges} concurrent judges")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
