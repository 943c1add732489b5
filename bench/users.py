"""Many users at once against a running app: N gradio_client clients x M messages on /chat, once with
cross-user batching off (STUDIO_CHAT_SHARE_BATCHES=0: one call a batch, the baseline) and once on, in the
same run; each mode starts `app.py` in its own process on a free port.

    flock /tmp/heavy.lock python bench/users.py [--clients 20] [--messages 3] [--tokens 16] [--targets base]
    python bench/users.py --engine http://127.0.0.1:8000/v1     # the same load on a `studio serve` server

Targets: zero errors in both modes; batched wall time at most a third of one-at-a-time. `--engine` (or env
STUDIO_CHAT_ENGINE) is passed to the app as STUDIO_CHAT_ENGINE ("local" or an OpenAI-compatible server URL).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(env: dict, log_path: Path):
    """`python app.py` with `env` added, on a free port; yields its URL once the port answers."""
    port = free_port()
    env = {**os.environ, **env, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log_path, "w") as log:
        app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if app.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"app.py did not start: see {log_path}")
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.terminate()
        app.wait(timeout=30)


def load(url: str, clients: int, messages: int, tokens: int, targets: str) -> dict:
    from gradio_client import Client

    panes = len(targets.split(","))
    Client(url, verbose=False).predict("warm up", targets=targets, max_new_tokens=2, api_name="/chat")  # loads the model
    latencies, errors, lock = [], [], threading.Lock()

    def user(k):
        try:
            client = Client(url, verbose=False)
        except Exception as exc:  # counted, not raised: the figure is the error count
            with lock:
                errors.append(f"connect: {exc!r}")
            return
        for m in range(messages):
            start = time.perf_counter()
            try:
                replies = client.predict(f"message {m} from user {k}: how was your day?", targets=targets,
                                         max_new_tokens=tokens, seed=k * 10 + m, api_name="/chat")
                assert len(replies) == panes and all(r["reply"] for r in replies), replies
                with lock:
                    latencies.append(time.perf_counter() - start)
            except Exception as exc:
                with lock:
                    errors.append(repr(exc))

    start = time.perf_counter()
    threads = [threading.Thread(target=user, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {"ok": len(latencies), "errors": errors, "wall": wall,
            "p50": statistics.median(latencies) if latencies else float("nan"),
            "p95": latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=16, help="new tokens per reply")
    parser.add_argument("--targets", default="base", help="panes per message, e.g. base or base,koume")
    parser.add_argument("--engine", default=os.environ.get("STUDIO_CHAT_ENGINE", "local"),
                        help="'local' or an OpenAI-compatible server URL (passed to the app as STUDIO_CHAT_ENGINE)")
    parser.add_argument("--batch-rows", type=int, default=0, help="STUDIO_CHAT_BATCH_ROWS for the batched run (0: the default)")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-users-"))
    env = {"STUDIO_CHAT_ENGINE": args.engine, "PERSONAS_DIR": os.environ.get("PERSONAS_DIR", str(scratch / "personas"))}
    if args.batch_rows:
        env["STUDIO_CHAT_BATCH_ROWS"] = str(args.batch_rows)
    results = {}
    for mode, share in (("one at a time", "0"), ("batched", "1")):
        with served_app({**env, "STUDIO_CHAT_SHARE_BATCHES": share}, scratch / f"app-{share}.log") as url:
            results[mode] = figures = load(url, args.clients, args.messages, args.tokens, args.targets)
        print(f"{mode:14s} {args.clients} clients x {args.messages} messages ({args.targets}, {args.tokens} tokens, "
              f"engine {args.engine}): {figures['ok']} ok, {len(figures['errors'])} errors, wall {figures['wall']:.1f} s, "
              f"p50 {figures['p50']:.1f} s, p95 {figures['p95']:.1f} s", flush=True)
        for error in figures["errors"][:3]:
            print("  error:", error)
    ratio = results["batched"]["wall"] / results["one at a time"]["wall"]
    errors = sum(len(r["errors"]) for r in results.values())
    print(f"batched wall = {ratio:.2f}x one at a time   target <= 0.33x: {'met' if ratio <= 1 / 3 else 'NOT met'}; "
          f"errors {errors}: {'met' if not errors else 'NOT met'}")
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
