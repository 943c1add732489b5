"""Chat arena tab: 2-4 panes (base model or a persona each), one message box, one batched generation.

Per session, a `gr.State` holds every pane's history and the blind-mode order; the chatbots only show it.
Two browser sessions therefore never share a conversation. The engine's lock keeps one user's generation
from changing the adapters another user's generation runs with.
"""

from __future__ import annotations

import gradio as gr

from studio import space
from studio.chat.arena import Pane, PaneReply, arena_stream
from studio.chat.engine import BASE, DEFAULT_BASE_PROMPT
from studio.chat.targets import chat_targets, resolve_target, target_ready
from studio.chat.config import GenerationConfig
from studio.errors import PersonaError
from studio.persona.registry import PersonaRegistry
from studio.ui import chat_extras
from studio.ui.chat_panes import (CHAT_CONCURRENCY, DEFAULT_PANES, MAX_PANES, PaneInputs, is_blind, new_state,
                                  new_stop_event, read_panes, stop)
from studio.ui.common import user_errors

PRESETS = {
    "Persona's saved prompt": None,
    "Plain form (常体)": "あなたは常体で応答します。",
    "Short posts": "Answer like a short social-media post: one or two sentences, your own voice.",
    "Helpful assistant": DEFAULT_BASE_PROMPT,
}

def persona_choices() -> list[tuple[str, str]]:
    return chat_targets(PersonaRegistry())


def refresh(*current: str):
    """New dropdown choices, keeping each picker's selection when it still exists."""
    choices = persona_choices()
    values = {value for _, value in choices}
    return [gr.Dropdown(choices=choices, value=v if v in values else BASE) for v in current]


def default_prompt(target: str) -> str:
    if not target or target == BASE:
        return DEFAULT_BASE_PROMPT
    try:
        return PersonaRegistry().get(target).system_prompt or DEFAULT_BASE_PROMPT
    except PersonaError:
        return DEFAULT_BASE_PROMPT


def apply_preset(preset: str, target: str) -> str:
    text = PRESETS.get(preset)
    return default_prompt(target) if text is None else text


@user_errors
def save_default(target: str, system: str) -> None:
    if not target or target == BASE:
        raise PersonaError("The base model has no saved prompt: pick a persona in this pane first.")
    if not (system or "").strip():
        raise PersonaError("The system prompt is empty: write one before saving it as the default.")
    persona = PersonaRegistry().update(target, system_prompt=system.strip())
    gr.Info(f"Saved as {persona.name}'s default system prompt.")


def show(state: dict, count: int) -> list:
    """Chatbot messages for every pane from the session's histories."""
    out = []
    for i in range(MAX_PANES):
        messages = []
        for user, reply in state["histories"][i]:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
        out.append(messages)
    return out


LOADING = "⏳ loading model… (the first message waits for it once; then replies stream)"
WRITING = "✍️ writing…"


def _run(state: dict, message: str, panes: list[int], values, request: gr.Request | None):
    """Stream `message` into the given displayed panes (one batched generation); yields (state, chats, notes).

    The message shows in every pane at once, before any model work, with "loading model…" in each pane's note
    while the engine loads (the first message only) and "writing…" until the reply is done."""
    stop_event = new_stop_event(request)
    setups = read_panes(values)
    shown = [setups[state["order"][i]] for i in panes]
    requests = [Pane(setup.target, setup.system_prompt, setup.settings, list(state["histories"][i]))
                for setup, i in zip(shown, panes)]
    ready = all([target_ready(setup.target) for setup in shown])  # an unknown persona fails here, before any change
    notes = [gr.update() for _ in range(MAX_PANES)]
    for i in panes:
        state["histories"][i] = state["histories"][i] + [(message, "")]
        notes[i] = WRITING if ready else LOADING
    yield state, show(state, len(panes)), notes
    replies: list[PaneReply] = []
    try:
        for replies in arena_stream(message, requests, stop=stop_event,
                                    session=getattr(request, "session_hash", None)):
            for i, r in zip(panes, replies):
                state["histories"][i][-1] = (message, r.text)
                notes[i] = WRITING
            yield state, show(state, len(panes)), notes
    except Exception:  # the load or the generation failed: take the unanswered message back out, then report
        for i in panes:
            state["histories"][i] = state["histories"][i][:-1]
        yield state, show(state, len(panes)), ["" if i in panes else gr.update() for i in range(MAX_PANES)]
        raise
    for i, r in zip(panes, replies):
        notes[i] = r.note if not is_blind(state) else "hidden until you vote"
    yield state, show(state, len(panes)), notes


@user_errors
def send(message: str, count: int, state: dict, *values, request: gr.Request = None):
    message = (message or "").strip()
    if not message:
        raise PersonaError("Type a message first.")
    state = {**chat_extras.start_round(state, count), "last": message}
    for state, chats, notes in _run(state, message, list(range(int(count))), values, request):
        yield "", state, *chats, *notes


@user_errors
def regenerate(index: int, count: int, state: dict, *values, request: gr.Request = None):
    """A new reply to the last message in one pane (a new seed unless the pane fixes one)."""
    history = state["histories"][index]
    if not history:
        raise PersonaError(f"Pane {index + 1} has no reply to regenerate yet: send a message first.")
    message = history[-1][0]
    state = {**state, "histories": [h if i != index else h[:-1] for i, h in enumerate(state["histories"])]}
    for state, chats, notes in _run(state, message, [index], values, request):
        yield state, *chats, *notes


def clear(state: dict):
    state = {**new_state(), "order": state["order"]}
    return state, *show(state, MAX_PANES), *["" for _ in range(MAX_PANES)]


def api_chat(message: str, targets: str = "base", system_prompt: str = "", max_new_tokens: int = 80,
             temperature: float = 0.8, seed: int | None = None, greedy: bool = False) -> list[dict]:
    """Send one message to several targets at once (comma-separated: 'base' and/or persona names), answered by
    one batched generation. An empty system prompt uses each persona's saved one. Returns [{target, reply, note}]."""
    settings = GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, greedy=greedy)
    panes = [Pane(t.strip(), system_prompt or None, settings) for t in targets.split(",") if t.strip()]
    if not panes:
        raise gr.Error("No targets: name 'base' and/or personas, separated by commas.")
    try:
        replies = list(arena_stream(message, panes))[-1]
    except PersonaError as exc:
        raise gr.Error(str(exc)) from exc
    return [{"target": r.target, "reply": r.text, "note": r.note} for r in replies]


def warm(target: str) -> None:
    """Load the picked persona's adapter now, so the first message does not wait for it (milliseconds later)."""
    engine, persona = resolve_target(target or BASE)
    if persona is not None:
        engine.warm(persona)


def build(trained: gr.State) -> list[gr.Dropdown]:
    gr.Markdown("Each pane answers with the base model or a persona, under its own system prompt and settings. "
                "One message goes to every pane; all panes are answered together by one batched generation.")
    state = gr.State(new_state())
    count = gr.Radio([2, 3, 4], value=DEFAULT_PANES, label="Panes", elem_id="chat-count")
    targets, inputs, columns, chats, notes, regens, configs = [], [], [], [], [], [], []
    with gr.Row(equal_height=False):
        for i in range(MAX_PANES):
            with gr.Column(visible=i < DEFAULT_PANES, min_width=260) as column:
                with gr.Column() as config_box:
                    target = gr.Dropdown(choices=persona_choices(), value=BASE, label=f"Pane {i + 1}",
                                         elem_id=f"chat-target-{i}")
                    system = gr.Textbox(value=DEFAULT_BASE_PROMPT, label="System prompt", lines=2, elem_id=f"chat-system-{i}")
                    with gr.Row():
                        preset = gr.Dropdown(list(PRESETS), value=None, label="Preset", scale=2, elem_id=f"chat-preset-{i}")
                        save = gr.Button("Save as persona's default", size="sm", scale=1, elem_id=f"chat-save-{i}")
                    with gr.Accordion("Generation settings", open=False):
                        d, h = GenerationConfig(), GenerationConfig.help()
                        settings = {
                            "temperature": gr.Slider(0, 2, d.temperature, step=0.05, label="Temperature", info=h["temperature"]),
                            "top_p": gr.Slider(0.05, 1, d.top_p, step=0.05, label="Top-p", info=h["top_p"]),
                            "top_k": gr.Slider(0, 200, d.top_k, step=1, label="Top-k", info=h["top_k"]),
                            "repetition_penalty": gr.Slider(1, 2, d.repetition_penalty, step=0.01, label="Repetition penalty", info=h["repetition_penalty"]),
                            "no_repeat_ngram_size": gr.Slider(0, 8, d.no_repeat_ngram_size, step=1, label="No-repeat n-gram size", info=h["no_repeat_ngram_size"]),
                            "max_new_tokens": gr.Slider(1, 512, d.max_new_tokens, step=1, label="Max new tokens", info=h["max_new_tokens"]),
                            "seed": gr.Number(-1, precision=0, minimum=-1, label="Seed", info="-1: a new seed for every reply; any other value repeats a sampled reply."),
                            "greedy": gr.Checkbox(d.greedy, label="Greedy", info=h["greedy"]),
                            "memory": gr.Checkbox(d.memory, label="Memory", info=h["memory"], elem_id=f"chat-memory-{i}"),
                            "memory_k": gr.Slider(1, 10, d.memory_k, step=1, label="Memory: posts", info=h["memory_k"]),
                        }
                chat = gr.Chatbot(label=f"Pane {i + 1}", height=360, buttons=["copy", "copy_all"], elem_id=f"chat-pane-{i}")
                note = gr.Markdown("", elem_id=f"chat-note-{i}")
                regen = gr.Button("Regenerate", size="sm", elem_id=f"chat-regen-{i}")
            target.change(default_prompt, target, system, api_visibility="private").then(
                warm, target, None, api_visibility="private")
            preset.input(apply_preset, [preset, target], system, api_visibility="private")
            save.click(save_default, [target, system], None, api_visibility="private")
            targets.append(target)
            inputs.append(PaneInputs(target, system, settings))
            columns.append(column)
            configs.append(config_box)
            chats.append(chat)
            notes.append(note)
            regens.append(regen)
    with gr.Row():
        message = gr.Textbox(placeholder="Message to every pane", show_label=False, scale=5, elem_id="chat-message")
        send_button = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
        stop_button = gr.Button("Stop", variant="stop", scale=1, elem_id="chat-stop")
    with gr.Row():
        clear_button = gr.Button("Clear all", elem_id="chat-clear")
        refresh_button = gr.Button("Refresh personas")
    values = [component for pane in inputs for component in pane.components()]
    gr.on([send_button.click, message.submit], space.gpu(send), [message, count, state, *values],
                    [message, state, *chats, *notes], api_name="arena_send", concurrency_id="chat", concurrency_limit=CHAT_CONCURRENCY)
    for i, regen in enumerate(regens):
        regen.click(regenerate, [gr.State(i), count, state, *values], [state, *chats, *notes],
                    api_name=f"arena_regenerate_{i}" if i == 0 else None, api_visibility="public" if i == 0 else "private",
                    concurrency_id="chat", concurrency_limit=CHAT_CONCURRENCY)
    stop_button.click(stop, None, None, queue=False, api_name="arena_stop")
    clear_button.click(clear, state, [state, *chats, *notes], api_name="arena_clear")
    count.change(lambda n: [gr.Column(visible=i < int(n)) for i in range(MAX_PANES)], count, columns,
                 api_visibility="private")
    gr.api(api_chat, api_name="chat", concurrency_id="chat", concurrency_limit=CHAT_CONCURRENCY)
    duel_targets = chat_extras.build(state, count, values, targets, configs, chats, notes, message)
    gr.on([refresh_button.click, trained.change], refresh, targets + duel_targets, targets + duel_targets,
          api_visibility="private")
    return targets + duel_targets
