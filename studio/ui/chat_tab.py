"""Chat tab: two panes (base model or a persona each), one message box, streamed answers."""

from __future__ import annotations

import gradio as gr

from studio import space
from studio.chat import BASE, BASE_LABEL, DEFAULT_BASE_PROMPT, get_engine
from studio.config import GenerationConfig
from studio.errors import PersonaError
from studio.registry import PersonaRegistry
from studio.ui.common import user_errors

PANES = 2


def persona_choices() -> list[tuple[str, str]]:
    """The base model, every persona, and each persona's earlier versions (`NAME@vN`, to compare with)."""
    registry, choices = PersonaRegistry(), [(BASE_LABEL, BASE)]
    for p in registry.list():
        choices.append((f"{p.name} ({p.slug})", p.slug))
        choices += [(f"{p.name} v{v.version} ({v.slug})", v.slug) for v in registry.versions(p.slug)[1:]]
    return choices


def refresh(*current: str):
    """New dropdown choices, keeping each pane's selection when it still exists."""
    choices = persona_choices()
    values = {value for _, value in choices}
    return [gr.Dropdown(choices=choices, value=v if v in values else BASE) for v in current]


def default_prompt(target: str) -> str:
    if not target or target == BASE:
        return DEFAULT_BASE_PROMPT
    try:
        return PersonaRegistry().get(target).system_prompt
    except PersonaError:
        return DEFAULT_BASE_PROMPT


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content or "")


def _history(messages: list[dict]) -> list[tuple[str, str]]:
    """(user, assistant) pairs from a Chatbot's messages."""
    pairs, asked = [], None
    for m in messages or []:
        if m["role"] == "user":
            asked = _text(m["content"])
        elif m["role"] == "assistant" and asked is not None:
            pairs.append((asked, _text(m["content"])))
            asked = None
    return pairs


@user_errors
def send(message: str, *pane_values):
    """pane_values: target, system prompt, chat messages for each pane. Panes answer one after another."""
    message = (message or "").strip()
    if not message:
        raise PersonaError("Type a message first.")
    targets, systems, chats = pane_values[0::3], pane_values[1::3], [list(c or []) for c in pane_values[2::3]]
    registry = PersonaRegistry()
    personas = [None if t in (None, BASE) else registry.get(t) for t in targets]
    spec = next((p.base_model.get("spec") for p in personas if p is not None), None)
    engine = get_engine(spec)  # one base model for every pane; personas are adapters on it
    histories = [_history(chat) for chat in chats]
    for chat in chats:
        chat += [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
    yield "", *chats
    for persona, system, history, chat in zip(personas, systems, histories, chats):
        for text in engine.stream(persona, message, system, history=history, settings=GenerationConfig()):
            chat[-1]["content"] = text
            yield "", *chats


def build(trained: gr.State) -> list[gr.Dropdown]:
    gr.Markdown("Each pane answers with the base model or a persona, under its own system prompt. "
                "One message goes to both panes; answers stream in.")
    targets, systems, chats = [], [], []
    with gr.Row():
        for i in range(PANES):
            with gr.Column():
                target = gr.Dropdown(choices=persona_choices(), value=BASE, label=f"Pane {i + 1}",
                                     elem_id=f"chat-target-{i}")
                system = gr.Textbox(value=DEFAULT_BASE_PROMPT, label="System prompt", lines=2, elem_id=f"chat-system-{i}")
                chat = gr.Chatbot(label=f"Pane {i + 1}", height=380, elem_id=f"chat-pane-{i}")
                target.change(default_prompt, target, system)
                targets.append(target)
                systems.append(system)
                chats.append(chat)
    with gr.Row():
        message = gr.Textbox(placeholder="Message to both panes", show_label=False, scale=5, elem_id="chat-message")
        send_button = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
    with gr.Row():
        clear = gr.Button("Clear chats")
        refresh_button = gr.Button("Refresh personas")
    panes = [c for trio in zip(targets, systems, chats) for c in trio]
    gr.on([send_button.click, message.submit], space.gpu(send), [message, *panes], [message, *chats], concurrency_id="chat")
    clear.click(lambda: [[] for _ in chats], None, chats)
    gr.on([refresh_button.click, trained.change], refresh, targets, targets)
    return targets
