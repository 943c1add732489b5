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
import os
import sys
import threading
import time
from typing import Any, Callable


def run_apart(fn: Callable[..., Any], *args, **kwargs) -> Any:
    """fn(*args, **kwargs) in a fresh thread, waited for; its result returned, its exception raised here.
    It runs in a copy of the caller's context, so context variables (Gradio's progress tracking) still apply."""
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target():
        try:
            set_threads(full_threads())  # not the count a busy machine gave the chat worker (torch copies it)
            outcome["value"] = context.run(fn, *args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"apart-{getattr(fn, '__name__', 'work')}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def full_threads() -> int:
    """The intra-op threads torch takes by default: OMP_NUM_THREADS, else this process's cores."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_threads(count: int) -> None:
    """torch's intra-op threads for the calling thread (its OpenMP team), when torch is in use at all. torch
    also makes `count` the default of threads that start later, hence run_apart's reset."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != count:
        torch.set_num_threads(count)


CHAT_THREADS_ENV = "STUDIO_CHAT_THREADS"  # "auto" (default) or a fixed number of intra-op threads for chat batches


def _cpu_jiffies(cpus: set[int]) -> tuple[int, int]:
    """(busy, total) clock ticks so far of the given CPUs, from /proc/stat. Niced work is not busy: it yields
    the core to the chat (a background training of the app runs niced, studio.training.jobs)."""
    busy = total = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
                continue
            ticks = [int(f) for f in fields[:8]]
            total += sum(ticks)
            busy += busy_ticks(ticks)
    return busy, total


def busy_ticks(ticks: list[int]) -> int:
    """Of one CPU's /proc/stat ticks (user nice system idle iowait irq softirq steal), those that keep the chat
    off the core: not idle, not waiting on I/O, not niced."""
    return sum(ticks) - ticks[1] - ticks[3] - ticks[4]


def _own_jiffies() -> int:
    with open("/proc/self/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime of every thread of this process


class CoreShare:
    """How many intra-op threads a chat batch should use: the cores that other processes leave free.

    Why: torch splits each op over a team of threads (as many as cores) that meet at a barrier after every op.
    When another process keeps a core busy (a persona training beside the chat, the app's everyday case), one
    team thread waits for a time slice at every barrier, hundreds of times a token, and its partner spins
    meanwhile, taking CPU the neighbour then takes back: decoding fell to 0.7x plain `generate` and the first
    token took seconds. With one thread fewer per busy core, no barrier waits on a descheduled thread. A niced
    process (the app's own background training) is not counted: it gives its core up when the chat wants it.
    Measured from /proc/stat over the time since the last batch (other processes' busy ticks on this
    process's CPUs, our own ticks taken out); a fresh 0.1 s sample when that is too short or too old."""

    MIN_WINDOW, MAX_WINDOW, SAMPLE = 0.1, 10.0, 0.1  # seconds

    def __init__(self):
        self.cpus = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
        self.busy_elsewhere = 0.0  # cores other processes used in the last window (for notes and the bench)
        self.chosen = full_threads()  # the last batch's thread count
        try:
            self._last: tuple[float, int, int, int] | None = self._reading()  # the first batch's window starts here
        except (OSError, ValueError, IndexError):
            self._last = None

    def _reading(self) -> tuple[float, int, int, int]:
        busy, total = _cpu_jiffies(self.cpus)
        return time.monotonic(), busy, total, _own_jiffies()

    def measure(self) -> float:
        """Cores that other processes kept busy lately (0 .. len(cpus))."""
        try:
            now = self._reading()
            if self._last is None or not self.MIN_WINDOW <= now[0] - self._last[0] <= self.MAX_WINDOW:
                self._last = now
                time.sleep(self.SAMPLE)
                now = self._reading()
        except (OSError, ValueError, IndexError):  # no /proc (not Linux): assume a quiet machine
            return 0.0
        _, busy0, total0, own0 = self._last
        _, busy, total, own = now
        self._last = now
        if total <= total0:
            return self.busy_elsewhere
        share = max(0, (busy - busy0) - (own - own0)) / (total - total0)  # of all these CPUs' time
        self.busy_elsewhere = share * len(self.cpus)
        return self.busy_elsewhere

    def threads(self) -> int:
        """The intra-op threads for the next batch: STUDIO_CHAT_THREADS when it is a number, else the cores
        less those busy elsewhere (a core counts as busy at 0.5 of it), at least 1."""
        fixed = os.environ.get(CHAT_THREADS_ENV, "auto").strip().lower()
        if fixed not in ("", "auto"):
            self.chosen = max(1, int(fixed))
        else:
            self.chosen = max(1, min(full_threads(), len(self.cpus) - int(self.measure() + 0.5)))
        return self.chosen
