"""run_apart: model work off the chat worker runs in a thread that ends with it (see studio.chat.threads)."""

import contextvars
import threading

import pytest
import torch

from studio.chat.threads import run_apart

REQUEST = contextvars.ContextVar("request", default=None)


def test_result_exception_and_context_carry_over_and_the_thread_ends():
    seen = {}

    def work(n):
        seen["thread"] = threading.current_thread()
        seen["request"] = REQUEST.get()
        return torch.ones(n, n).matmul(torch.ones(n, n)).sum().item()  # a parallel op, in that thread

    REQUEST.set("event-1")  # as Gradio's progress tracking is found: a context variable of the handler
    assert run_apart(work, 64) == 64.0 ** 3
    assert seen["request"] == "event-1"
    assert seen["thread"] is not threading.current_thread() and not seen["thread"].is_alive()

    def fail():
        raise ValueError("bad input, said clearly")

    with pytest.raises(ValueError, match="said clearly"):
        run_apart(fail)


def test_core_share_gives_a_busy_core_back_and_run_apart_resets_the_threads(monkeypatch):
    """A CPU-bound neighbour (a real busy loop) takes a core: the chat's next batch runs one thread fewer. A
    number in STUDIO_CHAT_THREADS fixes the count; work in run_apart starts from torch's default again."""
    import subprocess
    import sys
    import time

    from studio.chat.threads import CHAT_THREADS_ENV, CoreShare, full_threads, set_threads

    monkeypatch.delenv(CHAT_THREADS_ENV, raising=False)
    share = CoreShare()
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.5)  # the window: other processes' ticks since the last reading
        threads = share.threads()
        assert share.busy_elsewhere >= 0.7, share.busy_elsewhere
        assert threads == share.chosen <= max(1, full_threads() - 1)
    finally:
        spinner.kill()
        spinner.wait()
    monkeypatch.setenv(CHAT_THREADS_ENV, "1")
    assert share.threads() == 1

    def busy_worker():
        set_threads(1)  # as the chat worker does on a busy machine; torch copies it to threads started later
        return run_apart(torch.get_num_threads)

    assert run_apart(busy_worker) == full_threads()


def test_niced_work_leaves_the_core_to_the_chat():
    """A niced process (the app's background training) yields its core, so it is not counted as busy."""
    from studio.chat.threads import busy_ticks

    user, nice, system, idle, iowait, irq, softirq, steal = 40, 500, 10, 300, 20, 1, 2, 3
    assert busy_ticks([user, nice, system, idle, iowait, irq, softirq, steal]) == user + system + irq + softirq + steal
    assert busy_ticks([0, 900, 0, 100, 0, 0, 0, 0]) == 0  # a core all niced work is free for the chat


def test_the_engine_worker_runs_the_threads_core_share_picks(tiny_model_dir, monkeypatch):
    from studio.chat.config import GenerationConfig
    from studio.chat.engine import ChatEngine, Row
    from studio.chat.threads import CHAT_THREADS_ENV

    engine = run_apart(ChatEngine, str(tiny_model_dir))
    seen = []
    generate = engine.model.generate

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())  # in the worker thread, as the batch runs
        return generate(*args, **kwargs)

    monkeypatch.setattr(engine.model, "generate", spy)
    row = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}]
    for count in ("1", "2"):
        monkeypatch.setenv(CHAT_THREADS_ENV, count)
        texts = list(engine.stream_batch([Row(None, row, GenerationConfig(max_new_tokens=4, greedy=True), 0)]))
        assert texts and texts[-1][0]
    assert seen == [1, 2]
