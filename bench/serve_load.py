"""Many users at once: N clients x M messages against `python -m studio serve` (vLLM, OpenAI API) beside the local
in-process engine, in the same run, on the same base model, personas and settings.

    flock /tmp/heavy.lock python bench/serve_load.py [--clients 20] [--messages 3] [--max-new-tokens 32]

Each client is a thread that sends its messages one after another (a conversation: each message carries the
turns before it) to one target, cycling over base and the personas; a message's latency is from the send to
its whole reply. The server is started first (its own process: vLLM from studio.serve.env), measured, stopped;
then the same load runs on the local engine (studio.chat: one process, concurrent calls share batches).
Personas: `--personas N` fresh ones trained for 2 steps on the base (a temporary registry), so the run needs
nothing but the bundled model. Prints a table: wall time, messages/s, p50/p95 latency, errors.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.chat.arena import Pane, arena_stream  # noqa: E402
from studio.chat.config import GenerationConfig  # noqa: E402

QUESTIONS = ["How was your day?", "What are you working on?", "Any plans for the weekend?", "What did you eat?",
             "Tell me something you like."]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_personas(root: Path, count: int) -> list[str]:
    from studio.ingest import Post
    from studio.persona.registry import PersonaRegistry
    from studio.training.config import TrainConfig
    from studio.training.run import train_persona

    posts = [Post(f"Post number {i}: coffee first, then code.", created_at=f"2024-01-1{i % 9}T10:00:00Z", lang="en")
             for i in range(16)]
    names = [f"load{i + 1}" for i in range(count)]
    for name in names:
        train_persona(posts, name, TrainConfig(max_steps=2, eval_steps=0, seed=0), registry=PersonaRegistry(root))
    return names


def run_load(engine: str, targets: list[str], clients: int, messages: int, settings: GenerationConfig) -> dict:
    latencies, errors, lock = [], [], threading.Lock()

    def client(n: int) -> None:
        history: list[tuple[str, str]] = []
        target = targets[n % len(targets)]
        for m in range(messages):
            question = QUESTIONS[(n + m) % len(QUESTIONS)]
            started = time.perf_counter()
            try:
                pane = Pane(target, None, GenerationConfig.from_dict({**settings.to_dict(), "seed": n * 10 + m}), list(history))
                reply = list(arena_stream(question, [pane], engine=engine))[-1][0].text
                history.append((question, reply))
                with lock:
                    latencies.append(time.perf_counter() - started)
            except Exception as exc:  # counted, and the first few shown
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    return {"wall": wall, "done": len(latencies), "per_s": len(latencies) / wall, "p50": statistics.median(latencies) if latencies else float("nan"),
            "p95": q[18], "errors": errors}


def start_server(port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "studio", "serve", "--port", str(port)], cwd=ROOT,
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    started = time.perf_counter()
    while "Serving on" not in log.read_text():
        if process.poll() is not None:
            raise SystemExit(f"studio serve exited:\n{log.read_text()[-3000:]}")
        time.sleep(1)
    print(f"server ready in {time.perf_counter() - started:.0f} s (log: {log})", flush=True)
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--personas", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serve-load-"))
    os.environ["PERSONAS_DIR"] = str(work / "personas")
    names = train_personas(work / "personas", args.personas)
    targets = ["base", *names]
    settings = GenerationConfig(max_new_tokens=args.max_new_tokens, no_repeat_ngram_size=0)  # the same on both engines
    port = free_port()
    server = start_server(port, work / "serve.log")
    try:
        rows = {"studio serve (vLLM CPU)": run_load(f"http://127.0.0.1:{port}/v1", targets, args.clients, args.messages, settings)}
        r = rows["studio serve (vLLM CPU)"]
        print(f"server: wall {r['wall']:.1f} s, p50 {r['p50']:.1f} s, p95 {r['p95']:.1f} s, {len(r['errors'])} errors", flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(120)
    rows["local engine (in-process)"] = run_load("local", targets, args.clients, args.messages, settings)
    print(f"\n{args.clients} clients x {args.messages} messages, targets {', '.join(targets)}, "
          f"max_new_tokens {args.max_new_tokens}, sampled (seeded)\n")
    print("| engine | wall s | messages/s | p50 s | p95 s | errors |\n|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['wall']:.1f} | {r['per_s']:.2f} | {r['p50']:.1f} | {r['p95']:.1f} | {len(r['errors'])} |")
    for name, r in rows.items():
        for error in r["errors"][:3]:
            print(f"{name}: {error}")


if __name__ == "__main__":
    main()
