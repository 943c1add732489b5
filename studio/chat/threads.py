"""Model work outside the chat worker runs in a thread of its own that ends with the work.

Why: torch on Linux runs its parallel ops on libgomp, which keeps an OpenMP thread team for every
thread that ever ran one, for as long as that thread lives. Once a second long-lived thread (a Gradio
handler, the main thread) owns a team beside the chat worker's, libgomp manages more threads than
there are cores and stops spinning between parallel regions: every region then waits on a sleeping
thread. Measured on 2 cores: three chat panes decoded 2x slower from then on (the same as
OMP_WAIT_POLICY=PASSIVE). A team ends with its thread, so work done in a short-lived thread leaves
nothing behind.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable


def run_apart(fn: Callable[..., Any], *args, **kwargs) -> Any:
    """fn(*args, **kwargs) in a fresh thread, waited for; its result returned, its exception raised here.
    It runs in a copy of the caller's context, so context variables (Gradio's progress tracking) still apply."""
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target():
        try:
            outcome["value"] = context.run(fn, *args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"apart-{getattr(fn, '__name__', 'work')}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
