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
