"""Gradio UI: `build_ui()` composes one module per tab. Only this package imports gradio."""

from studio.ui.app import build_ui

__all__ = ["build_ui"]
