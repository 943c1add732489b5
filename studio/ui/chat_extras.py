"""Chat arena extras: blind mode with votes, conversation export, persona-to-persona exchanges."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import gradio as gr

from studio.chat.arena import VoteStore, duel_stream, export_json, export_markdown, label
from studio.chat.engine import BASE
from studio.chat.targets import chat_targets
from studio.chat.config import GenerationConfig
from studio.errors import PersonaError
from studio.persona.registry import PersonaRegistry
from studio.ui.chat_panes import CHAT_CONCURRENCY, LETTERS, MAX_PANES, is_blind, new_state, new_stop_event, shown_setups, stop
from studio.ui.common import user_errors


def win_table() -> list[list]:
    return [[label(r["target"]), r["wins"], r["losses"], f"{r['win_rate']:.0%}"] for r in VoteStore().win_rates()]


def set_blind(blind: bool, count: int, state: dict):
    """Blind on: shuffle which pane shows which model, hide pickers and labels, start a fresh round."""
    n = int(count)
    order = list(range(MAX_PANES))
    if blind:
        shown = random.sample(range(n), n)
        order = shown + order[n:]
    state = {**new_state(), "order": order, "blind": bool(blind)}
    configs = [gr.Column(visible=not blind) for _ in range(MAX_PANES)]
    chats = [gr.Chatbot(value=[], label=f"Reply {LETTERS[i]}" if blind else f"Pane {i + 1}") for i in range(MAX_PANES)]
    votes = gr.Row(visible=bool(blind))
    buttons = [gr.Button(visible=i < n) for i in range(MAX_PANES)]
    return state, *configs, *chats, *["" for _ in range(MAX_PANES)], votes, *buttons


def start_round(state: dict, count: int) -> dict:
    """After a vote, the next blind message starts a new round with a new shuffle."""
    if is_blind(state) and state.get("revealed"):
        n = int(count)
        state = {**new_state(), "blind": True, "order": random.sample(range(n), n) + list(range(n, MAX_PANES))}
    return state


@user_errors
def vote(index: int, count: int, state: dict, *values):
    n = int(count)
    if not is_blind(state):
        raise PersonaError("Votes are for blind mode: tick 'Blind mode', send a message, then pick a reply.")
    if state.get("revealed"):
        raise PersonaError("This round is already decided: send a new message for the next blind round.")
    if not state["histories"][index]:
        raise PersonaError("Send a message first, then pick the reply that sounds more like the person.")
    shown = [setup.target for setup in shown_setups(state, values, n)]
    VoteStore().record(shown[index], [t for j, t in enumerate(shown) if j != index], state.get("last", ""))
    state = {**state, "revealed": True}
    notes = [f"Reply {LETTERS[j]} was **{label(shown[j])}**" + (" (your pick)" if j == index else "") for j in range(n)]
    return state, *notes, *["" for _ in range(MAX_PANES - n)], win_table()


def export(fmt: str, count: int, state: dict, *values) -> str:
    panes = [{"target": setup.target, "system_prompt": setup.system_prompt, "settings": setup.settings.to_dict(),
              "history": [list(turn) for turn in state["histories"][j]]}
             for j, setup in enumerate(shown_setups(state, values, count))]
    text = export_json(panes) if fmt == "json" else export_markdown(panes)
    path = Path(tempfile.mkdtemp(prefix="arena-")) / f"conversation.{'json' if fmt == 'json' else 'md'}"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _duel_messages(lines: list[tuple[str, str]]) -> list[dict]:
    return [{"role": "user" if j % 2 == 0 else "assistant", "content": f"**{label(who)}:** {text}"}
            for j, (who, text) in enumerate(lines)]


@user_errors
def duel(first: str, second: str, opening: str, turns: int, max_new_tokens: int, engine: str = "",
         request: gr.Request = None):
    settings = GenerationConfig(max_new_tokens=max_new_tokens)
    for lines in duel_stream(first or BASE, second or BASE, opening, turns, settings, stop=new_stop_event(request),
                             engine=engine or None):
        yield _duel_messages(lines)


def build(state, count, values, targets, configs, chats, notes, message, engine) -> list[gr.Dropdown]:
    with gr.Row():
        blind = gr.Checkbox(False, label="Blind mode: hide which model wrote which reply until you vote",
                            elem_id="chat-blind")
        export_json_button = gr.Button("Export JSON", size="sm", elem_id="chat-export-json")
        export_md_button = gr.Button("Export Markdown", size="sm", elem_id="chat-export-md")
    exported = gr.File(label="Exported conversation", elem_id="chat-export", height=60)
    with gr.Row(visible=False) as vote_row:
        vote_buttons = [gr.Button(f"Reply {LETTERS[i]} sounds more like the person", elem_id=f"chat-vote-{i}")
                        for i in range(MAX_PANES)]
    wins = gr.Dataframe(value=win_table, headers=["Model", "Wins", "Losses", "Win rate"], label="Blind votes: win rates",
                        interactive=False, elem_id="chat-winrates")
    blind.change(set_blind, [blind, count, state], [state, *configs, *chats, *notes, vote_row, *vote_buttons],
                 api_visibility="private")
    for i, button in enumerate(vote_buttons):
        button.click(vote, [gr.State(i), count, state, *values], [state, *notes, wins],
                     api_name="arena_vote" if i == 0 else None, api_visibility="public" if i == 0 else "private")
    export_json_button.click(export, [gr.State("json"), count, state, *values], exported, api_name="arena_export")
    export_md_button.click(export, [gr.State("md"), count, state, *values], exported, api_visibility="private")

    with gr.Accordion("Persona to persona", open=False, elem_id="chat-duel-box"):
        choices = chat_targets(PersonaRegistry())
        with gr.Row():
            first = gr.Dropdown(choices=choices, value=BASE, label="First speaker", elem_id="duel-first")
            second = gr.Dropdown(choices=choices, value=BASE, label="Second speaker", elem_id="duel-second")
            turns = gr.Slider(1, 20, 4, step=1, label="Turns", elem_id="duel-turns")
            max_tokens = gr.Slider(8, 256, 48, step=1, label="Max new tokens per turn")
        opening = gr.Textbox(label="Opening line (said by the first speaker)", elem_id="duel-opening")
        with gr.Row():
            start = gr.Button("Start", variant="primary", elem_id="duel-start")
            halt = gr.Button("Stop", variant="stop", elem_id="duel-stop")
        exchange = gr.Chatbot(label="Exchange", height=360, elem_id="duel-chat")
    start.click(duel, [first, second, opening, turns, max_tokens, engine], exchange, api_name="arena_duel",
                concurrency_id="chat", concurrency_limit=CHAT_CONCURRENCY)
    halt.click(stop, None, None, queue=False, api_visibility="private")
    return [first, second]
