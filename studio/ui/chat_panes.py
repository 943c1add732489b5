"""What the Chat tab's modules share: the pane count, each session's state, the Stop button's events, and
a pane's inputs as one named structure.

Gradio hands a handler its inputs as positional values. Every pane's inputs are listed by
`PaneInputs.components()` and read back by `read_panes()` from the one field order `PANE_FIELDS`, so
adding a setting means adding it to `SETTINGS` and giving it a widget, never counting positions by hand.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import gradio as gr

from studio.chat.config import GenerationConfig
from studio.chat.engine import BASE
from studio.config import env_count

MAX_PANES, DEFAULT_PANES = 4, 2
CHAT_CONCURRENCY = env_count("STUDIO_CHAT_CONCURRENCY", 20)  # chat calls running at once; the engine merges them into shared batches, the rest queue
LETTERS = "ABCD"  # blind mode's reply names
SETTINGS = ("temperature", "top_p", "top_k", "repetition_penalty", "no_repeat_ngram_size", "max_new_tokens", "seed", "greedy",
            "memory", "memory_k")
"""The GenerationConfig fields a pane shows as widgets, in the order their values arrive."""
PANE_FIELDS = ("target", "system_prompt", *SETTINGS)


@dataclass
class PaneSetup:
    """What one pane's inputs say: who answers, under which system prompt, with which settings."""

    target: str
    system_prompt: str | None
    settings: GenerationConfig


@dataclass
class PaneInputs:
    """One pane's input components: its target picker, its system prompt and one widget per setting."""

    target: gr.Dropdown
    system_prompt: gr.Textbox
    settings: dict[str, gr.components.Component]

    def components(self) -> list:
        return [self.target, self.system_prompt, *(self.settings[name] for name in SETTINGS)]


def read_panes(values) -> list[PaneSetup]:
    """Every pane's setup from the flat values of `PaneInputs.components()` of all panes, in pane order."""
    width, panes = len(PANE_FIELDS), []
    for i in range(MAX_PANES):
        fields = dict(zip(PANE_FIELDS, values[i * width:(i + 1) * width]))
        target, system = fields.pop("target"), fields.pop("system_prompt")
        seed = fields["seed"]
        fields["seed"] = None if seed in (None, "") or float(seed) < 0 else seed  # -1 in the UI: a new seed each reply
        panes.append(PaneSetup(target or BASE, system, GenerationConfig(**fields)))
    return panes


def new_state() -> dict:
    """A session's arena: every pane's history, which model each displayed pane shows (blind mode shuffles
    it) and the last message."""
    return {"histories": [[] for _ in range(MAX_PANES)], "order": list(range(MAX_PANES)), "last": ""}


def is_blind(state: dict) -> bool:
    return bool(state.get("blind"))


def shown_setups(state: dict, values, count: int) -> list[PaneSetup]:
    """The setups behind the `count` displayed panes, in display order (blind mode's shuffle applied)."""
    setups = read_panes(values)
    return [setups[state["order"][j]] for j in range(int(count))]


_stop_events: dict[str, threading.Event] = {}  # session -> the event of its running generation


def _session(request: gr.Request | None) -> str:
    return request.session_hash if request else "local"


def new_stop_event(request: gr.Request | None) -> threading.Event:
    """A fresh event for the generation a session starts now; the Stop button sets it."""
    event = _stop_events[_session(request)] = threading.Event()
    return event


def stop(request: gr.Request = None) -> None:
    """The Stop button: end the session's running generation (chat or persona-to-persona)."""
    event = _stop_events.get(_session(request))
    if event is not None:
        event.set()
