"""Command line: the same service functions as the UI, for headless use, CI and benchmarks.

    python -m studio ingest INPUT... --out posts.jsonl [--report report.json]
    python -m studio fit --posts FILE [--base MODEL] [--json]      (does the base model fit their language?)
    python -m studio train --posts FILE --name NAME [--base MODEL] [--max-steps N] [--lr LR] [--rank R] [--json]
    python -m studio list [--json]
    python -m studio models [--path DIR] [--hub ID] [--json]   (base models: size, licence, memory fit)
    python -m studio chat NAME|base|NAME@vN "MESSAGE" [--system TEXT] [--max-new-tokens N] [--seed S] [--greedy] [--json]
    python -m studio chat --compare base,NAME1,NAME2 "MESSAGE"     (one batched generation, side by side)
    python -m studio eval NAME [--prompts N] [--seed S] [--json]
    python -m studio gate NAME [--force --reason TEXT];  consent NAME "STATEMENT"   (studio/cli/gate.py)
    python -m studio forget NAME --post ID | --matching TEXT [--delete-old-versions]   (studio/cli/forget.py)
    python -m studio real-or-bot NAME [--pool N] [--json]            (the judges' page: python app.py --real-or-bot NAME)
    python -m studio serve [--host 127.0.0.1] [--port 8000] [--personas NAME ...]   (vLLM, OpenAI API; studio/serve/)
    python -m studio show|versions|rename|delete|restore|export|import|push|pull|card ...  (studio/cli/personas.py)

Errors a user can fix are printed as one line on stderr with exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from studio import __version__
from studio.cli import chat, data, evaluate, fit, forget, gate, models, personas, real_or_bot, serve, train
from studio.errors import StudioError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studio", description="Persona Studio: posts in, persona chatbots out.")
    parser.add_argument("--version", action="version", version=f"persona-studio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library logs and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (data, fit, models, train, chat, evaluate, personas, gate, forget, real_or_bot, serve):
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("studio").setLevel(logging.INFO)
    if not args.verbose:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    try:
        return args.func(args)
    except StudioError as exc:
        if args.verbose:
            logging.exception("failed")
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
