"""`serve`: the personas behind an OpenAI-compatible vLLM server (studio.serve)."""

from __future__ import annotations

from studio.cli.options import add_config_arguments, config_from_args
from studio.serve.config import ServeConfig


def cmd_serve(args) -> int:
    from studio.serve.server import serve

    return serve(config_from_args(ServeConfig, args))


def cmd_serve_env(args) -> int:
    from studio.serve.env import ensure_env

    print(ensure_env())
    return 0


def add_commands(sub) -> None:
    """The `serve` and `serve-env` commands."""
    p = sub.add_parser("serve", help="serve the base model and every persona over an OpenAI-compatible API (vLLM)",
                       description="Start a vLLM server for the registry's base model, each persona a LoRA module "
                                   "(model name = persona slug, 'base' for the bare model, NAME@vN for versions). "
                                   "vLLM is installed into its own environment on first use (a few minutes).")
    add_config_arguments(p, ServeConfig, "server")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("serve-env", help="install vLLM into its own environment (what `serve` does on first use)")
    p.set_defaults(func=cmd_serve_env)
