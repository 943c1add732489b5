"""The whole app: Data -> Train -> Chat tabs sharing the loaded posts.

On a public deployment (a Space, a share link, a non-loopback host) the Data, Train and Personas tabs and
saving a pane's prompt as a persona's default are the owner's: `studio.ui.access` guards their handlers on the
server and hides them from visitors, who get the chat and the arena."""

from __future__ import annotations

import gradio as gr

from studio import __version__
from studio.ui import access, chat_tab, data_tab, personas_tab, real_or_bot_tab, train_tab

INTRO = f"""# Persona Studio <small>v{__version__}</small>
Upload someone's posts, train a persona (a LoRA adapter), and chat with it beside the base model.
Write only personas of people who agreed to it, and never present the output as their words."""


def build_ui() -> gr.Blocks:
    """Build the Blocks app. Loads no model: models load on first use."""
    with gr.Blocks(title="Persona Studio") as demo:
        gr.Markdown(INTRO)
        status = access.sign_in()
        with gr.Tabs(selected="chat" if access.is_public() else "data"):
            with gr.Tab("1. Data", id="data") as data:
                posts, report, clean, table = data_tab.build()
            with gr.Tab("2. Train", id="train") as train:
                trained = train_tab.build(posts, report, clean, table)
            with gr.Tab("3. Chat", id="chat") as chat:
                targets = chat_tab.build(trained)
            with gr.Tab("4. Personas", id="personas") as personas:
                selected, version, listing = personas_tab.build()
            with gr.Tab("5. Real or bot?", id="real-or-bot"):
                real_or_bot_tab.build()  # the page alone, for judges: python app.py --real-or-bot NAME
        # the registry may change from the CLI or another browser tab: refresh on page load and tab switch
        gr.on([demo.load, chat.select], chat_tab.refresh, targets, targets)
        gr.on([demo.load, personas.select], personas_tab.refresh, [selected, version], listing)
        # last: every handler above that manages (the owner's tabs, a pane's "save as default") checks the caller
        access.protect(demo, [data, train, personas], actions=[chat_tab.save_default], status=status)
    demo.queue(default_concurrency_limit=1)
    return demo
