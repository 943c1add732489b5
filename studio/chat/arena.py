"""The chat arena: one message answered in every pane (batched where panes share a base model), blind votes
(SQLite in the data folder), conversation export, and persona-to-persona exchanges. No gradio here: the UI,
the CLI and tests call these directly."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.chat.engine import BASE, BASE_LABEL, Row
from studio.chat.targets import resolve_target
from studio.chat.config import GenerationConfig
from studio.chat_format import system_note
from studio.config import personas_dir
from studio.errors import PersonaError
from studio.files import utc_now
from studio.persona.registry import PersonaRegistry

VOTES_FILE = ".arena.sqlite"


@dataclass
class Pane:
    """A pane's side of one message: who answers, under which prompt and settings, after which turns."""

    target: str = BASE
    system_prompt: str | None = None
    settings: GenerationConfig = field(default_factory=GenerationConfig)
    history: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PaneReply:
    target: str
    text: str = ""
    seed: int | None = None
    note: str = ""


def arena_stream(message: str, panes: list[Pane], registry: PersonaRegistry | None = None,
                 stop: threading.Event | None = None, session=None) -> Iterator[list[PaneReply]]:
    """Answer one message in every pane; yield every pane's reply so far. `session` (who asks, e.g. the browser
    session) lets the engine serve waiting users in turn (studio.chat.engine.FairQueue).

    Panes whose targets share a base model are answered by one batched generate, whatever their
    settings (each row samples on its own). Panes on another base model cannot share that batch: they
    run as their own batch afterwards, and their note says so."""
    if not message or not message.strip():
        raise PersonaError("The message is empty: type something to send.")
    resolved = [resolve_target(p.target, registry) for p in panes]
    groups: dict[int, list[int]] = {}
    for i, (engine, _) in enumerate(resolved):
        groups.setdefault(id(engine), []).append(i)
    rows = [Row.make(persona, message, pane.system_prompt, pane.history, pane.settings)
            for pane, (_, persona) in zip(panes, resolved)]
    replies = [PaneReply(target=persona.slug if persona else BASE, seed=None if p.settings.greedy or not p.settings.sampling
                         else rows[i].seed) for i, (p, (_, persona)) in enumerate(zip(panes, resolved))]
    for n, members in enumerate(groups.values()):
        for i in members:
            shared = [str(j + 1) for j in members if j != i]
            how = f"one batch with pane{'s' if len(shared) > 1 else ''} {', '.join(shared)}" if shared else "own batch"
            if len(groups) > 1:
                how += f" (batch {n + 1} of {len(groups)}: panes on another base model cannot share a batch)"
            seed = f", seed {replies[i].seed}" if replies[i].seed is not None else ", greedy"
            template = system_note(resolved[i][0].tokenizer)  # e.g. Gemma's template has no system role
            replies[i].note = how + seed + (f". {template}" if template else "")
    yield replies
    for members in groups.values():
        engine = resolved[members[0]][0]
        for texts in engine.stream_batch([rows[i] for i in members], stop, session):
            for i, text in zip(members, texts):
                replies[i].text = text
            yield replies


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

    def pairs(self) -> list[tuple[str, str]]:
        """Every (winner, loser) pair, oldest first: what a Bradley-Terry ranking is fitted to."""
        with self._connect() as db:
            return [tuple(r) for r in db.execute("SELECT winner, loser FROM votes ORDER BY id").fetchall()]

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
