"""Persona Studio web app (also the Hugging Face Space entry point): python app.py"""

from studio.ui import build_ui

demo = build_ui()

if __name__ == "__main__":
    demo.launch()
