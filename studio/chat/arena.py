"""Arena services beside the engine: blind votes (SQLite in the data folder), conversation export,
and persona-to-persona exchanges. No gradio here: the UI and tests call these directly."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from studio.chat.engine import BASE, BASE_LABEL, Row, resolve_target
from studio.chat.config import GenerationConfig
from studio.config import personas_dir
from studio.errors import PersonaError
from studio.files import utc_now
from studio.persona.registry import PersonaRegistry

VOTES_FILE = ".arena.sqlite"


class VoteStore:
    """Blind-mode votes: one row per (winner, loser) pair of a vote; win rate = wins / (wins + losses)."""

    def __init__(self, root: str | Path | None = None):
        root = Path(root) if root is not None else personas_dir()
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / VOTES_FILE
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS votes (id INTEGER PRIMARY KEY, at TEXT NOT NULL, vote TEXT NOT NULL, "
                       "winner TEXT NOT NULL, loser TEXT NOT NULL, message TEXT NOT NULL DEFAULT '')")

    @contextlib.contextmanager
    def _connect(self):
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:  # one transaction: a vote is stored whole or not at all
                yield db
        finally:
            db.close()

    def record(self, winner: str, losers: list[str], message: str = "") -> str:
        losers = [t for t in losers if t != winner]
        if not winner or not losers:
            raise PersonaError("A vote needs the reply you picked and at least one other pane with a different model.")
        vote = utc_now("microseconds")
        with self._connect() as db:
            db.executemany("INSERT INTO votes (at, vote, winner, loser, message) VALUES (?, ?, ?, ?, ?)",
                           [(vote, vote, winner, loser, message) for loser in losers])
        return vote

    def win_rates(self) -> list[dict]:
        """Per target, best first: wins, losses, win rate."""
        with self._connect() as db:
            rows = db.execute("SELECT target, SUM(win), SUM(1 - win) FROM ("
                              "SELECT winner AS target, 1 AS win FROM votes UNION ALL "
                              "SELECT loser AS target, 0 AS win FROM votes) GROUP BY target").fetchall()
        table = [{"target": t, "wins": w, "losses": l, "win_rate": round(w / (w + l), 3)} for t, w, l in rows]
        return sorted(table, key=lambda r: (-r["win_rate"], -r["wins"], r["target"]))


def label(target: str) -> str:
    return BASE_LABEL if target == BASE else target


def export_json(panes: list[dict]) -> str:
    """panes: [{target, system_prompt, settings, history: [(user, reply), ...]}, ...]."""
    data = {"exported_at": utc_now(), "panes": [
        {**p, "history": [{"user": u, "assistant": a} for u, a in p["history"]]} for p in panes]}
    return json.dumps(data, ensure_ascii=False, indent=2)


def export_markdown(panes: list[dict]) -> str:
    lines = ["# Chat arena conversation", ""]
    for i, p in enumerate(panes, 1):
        lines += [f"## Pane {i}: {label(p['target'])}", "", f"*System prompt:* {p['system_prompt']}", "",
                  f"*Settings:* `{json.dumps(p['settings'], ensure_ascii=False)}`", ""]
        for user, reply in p["history"]:
            lines += [f"**User:** {user}", "", f"**{label(p['target'])}:** {reply}", ""]
    return "\n".join(lines)


def duel_stream(first: str, second: str, opening: str, turns: int, settings: GenerationConfig | None = None,
                system_prompts: tuple[str | None, str | None] = (None, None), registry: PersonaRegistry | None = None,
                stop: threading.Event | None = None) -> Iterator[list[tuple[str, str]]]:
    """Two targets talk: `first` says the opening line, then they answer each other for `turns` replies.
    Yields the exchange so far as (speaker, text) pairs, streaming each reply."""
    if not opening or not opening.strip():
        raise PersonaError("The opening line is empty: write what the first speaker says.")
    if not 1 <= int(turns) <= 40:
        raise PersonaError(f"Turns must be between 1 and 40, got {turns}.")
    sides = [resolve_target(first, registry), resolve_target(second, registry)]
    names = [p.slug if p else BASE for _, p in sides]
    prompts = [s or (p.system_prompt if p else None) or "You are a helpful assistant. Answer briefly."
               for s, (_, p) in zip(system_prompts, sides)]
    settings = settings or GenerationConfig()
    lines: list[tuple[str, str]] = [(names[0], opening.strip())]
    yield lines
    for turn in range(int(turns)):
        if stop is not None and stop.is_set():
            return
        speaker = (turn + 1) % 2  # the second speaker answers the opening line
        messages = [{"role": "system", "content": prompts[speaker]}]
        for j, (_, text) in enumerate(lines):  # line j was said by speaker j % 2: mine are "assistant"
            messages.append({"role": "assistant" if j % 2 == speaker else "user", "content": text})
        engine, persona = sides[speaker]
        lines.append((names[speaker], ""))
        for texts in engine.stream_batch([Row(persona, messages, settings, settings.seed)], stop):
            lines[-1] = (names[speaker], texts[0])
            yield lines
