"""Helpers shared by the tabs: turning StudioError into messages a user sees."""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from studio.errors import StudioError

log = logging.getLogger(__name__)


def user_errors(fn):
    """Show a StudioError as a red `gr.Error` with its message; log anything else with its traceback."""

    def convert(exc: Exception):
        if isinstance(exc, StudioError):
            return gr.Error(str(exc))
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"Unexpected error: {exc}. See the server log for details.")

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                raise convert(exc) from exc

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise convert(exc) from exc

    return wrapper
