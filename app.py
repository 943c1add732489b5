"""Persona Studio web app (also the Hugging Face Space entry point): python app.py

On a public deployment only the owner manages personas (see studio/ui/access.py and the README's Spaces
section); STUDIO_AUTH=user:password adds gradio's password sign-in."""

from studio.ui import build_ui
from studio.ui.access import launch_options

demo = build_ui()

if __name__ == "__main__":
    demo.launch(**launch_options())
