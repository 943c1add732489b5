"""Errors a user can act on.

Core code raises these with a message that says what was wrong and what to do; the CLI prints
them without a traceback and the UI shows them as `gr.Error`. Anything else is a bug.
"""


class StudioError(Exception):
    """Base class: the message is shown to the user as it is."""


class InputError(StudioError):
    """An uploaded file or pasted text that cannot be used."""


class ConfigError(StudioError):
    """A setting with a value out of range or of the wrong kind."""


class ModelError(StudioError):
    """A base model that cannot be found, downloaded or loaded."""


class PersonaError(StudioError):
    """A persona name that is invalid, taken or unknown, or a broken persona folder."""
