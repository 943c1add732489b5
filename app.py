"""Persona Studio web app (also the Hugging Face Space entry point): python app.py

On a public deployment only the owner manages personas (see studio/ui/access.py and the README's Spaces
section); STUDIO_AUTH=user:password adds gradio's password sign-in."""

import sys

from studio.ui import build_ui
from studio.ui.access import launch_options
from studio.ui.real_or_bot_tab import page, page_requested

judged = page_requested(sys.argv[1:])  # --real-or-bot NAME: only the judges' page of that persona
demo = page(judged) if judged else build_ui()

if __name__ == "__main__":
    demo.launch(**launch_options())
