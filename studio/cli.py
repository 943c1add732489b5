"""Command line: the same service functions as the UI, for headless use, CI and benchmarks.

    python -m studio ingest INPUT... --out posts.jsonl [--report report.json]
    python -m studio train --posts FILE --name NAME [--base MODEL] [--max-steps N] [--lr LR] [--rank R] [--json]
    python -m studio list [--json]
    python -m studio chat NAME|base "MESSAGE" [--system TEXT] [--max-new-tokens N] [--seed S] [--json]

Errors a user can fix are printed as one line on stderr with exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from studio import __version__
from studio.config import GenerationConfig, TrainConfig, default_base
from studio.errors import StudioError


def add_clean_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per CleanConfig field, with its default and help text (e.g. --replies drop, --no-near-duplicates)."""
    from studio.clean import CleanConfig

    group = parser.add_argument_group("cleaning", "how posts are cleaned (defaults suit most exports)")
    group.add_argument("--include-private", action="store_true",
                       help="also read Mastodon followers-only and direct posts (left out by default)")
    defaults = CleanConfig()
    for f in dataclasses.fields(CleanConfig):
        flag, default, help_ = "--" + f.name.replace("_", "-"), getattr(defaults, f.name), f.metadata.get("help", "")
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_)
        elif isinstance(default, list):
            group.add_argument(flag, nargs="*", default=default, metavar="WORD", help=help_)
        else:
            group.add_argument(flag, type=type(default), default=default, help=f"{help_} (default: %(default)s)")


def clean_config(args):
    from studio.clean import CleanConfig

    return CleanConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(CleanConfig)})


def _write_json(path: str, data) -> None:
    """Write next to the target and rename, so a failure never leaves half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(data, encoding="utf-8")
    tmp.replace(target)


def cmd_ingest(args) -> int:
    from studio.clean import clean_posts
    from studio.ingest import load_posts

    posts = load_posts(args.inputs, text_column=args.text_column, include_private=args.include_private)
    posts, report = clean_posts(posts, clean_config(args))
    _write_json(args.out, "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in posts))
    if args.report:
        _write_json(args.report, json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    print(f"{report.summary()} -> {args.out}")
    return 0


def cmd_train(args) -> int:
    from tqdm import tqdm

    from studio.ingest import load_posts
    from studio.registry import PersonaRegistry, slugify
    from studio.train import train_persona

    slugify(args.name)  # refuse a bad name before loading anything
    config = TrainConfig(
        base_model=args.base, max_steps=args.max_steps, learning_rate=args.lr, rank=args.rank,
        alpha=args.alpha or 2 * args.rank, batch_size=args.batch_size, max_length=args.max_length, seed=args.seed,
        quantize=args.quantize,
    )
    posts = load_posts(args.posts, text_column=args.text_column, include_private=args.include_private)
    bar = None  # opened at the first step, so load errors are not printed under an empty bar

    def progress(step, total, loss):
        nonlocal bar
        bar = bar or tqdm(total=total, desc=f"training {args.name}", unit="step")
        bar.update(step - bar.n)
        if loss is not None:
            bar.set_postfix(loss=f"{loss:.3f}")

    try:
        result = train_persona(posts, args.name, config, system_prompt=args.system, registry=PersonaRegistry(),
                               progress=progress, overwrite=args.overwrite, clean=clean_config(args))
    finally:
        if bar is not None:
            bar.close()
    print(f"Saved persona {result.persona.slug!r} to {result.persona.path} "
          f"({result.steps} steps, {result.seconds:.1f} s, final loss {result.final_loss}).")
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    return 0


def cmd_list(args) -> int:
    from studio.registry import PersonaRegistry

    registry = PersonaRegistry()
    personas = registry.list()
    if args.json:
        print(json.dumps([{"slug": p.slug, "name": p.name, "base_model": p.base_model.get("id"),
                           "posts": p.data.get("kept"), "steps": p.metrics.get("steps"),
                           "final_loss": p.metrics.get("final_loss"), "created_at": p.created_at}
                          for p in personas], ensure_ascii=False))
        return 0
    if not personas:
        print(f"No personas in {registry.root}. Train one: python -m studio train --posts FILE --name NAME")
    for p in personas:
        print(f"{p.slug:24} {p.name:24} posts={p.data.get('kept', '?'):<6} steps={p.metrics.get('steps', '?'):<5} "
              f"loss={p.metrics.get('final_loss', '?')}  base={p.base_model.get('id', '?')}")
    for problem in registry.problems():
        print(f"broken: {problem}", file=sys.stderr)
    return 0


def cmd_chat(args) -> int:
    from studio.chat import reply

    settings = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed)
    answer = reply(args.target, args.message, system_prompt=args.system, settings=settings)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print(answer.text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studio", description="Persona Studio: posts in, persona chatbots out.")
    parser.add_argument("--version", action="version", version=f"persona-studio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library logs and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="read and clean posts, write them as JSONL",
                       description="Read posts (X archive .zip or tweets.js, Mastodon archive or outbox.json, "
                                   ".txt, .csv, .tsv, .jsonl, .json), clean them, write JSONL and a report.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files with posts")
    p.add_argument("--out", required=True, help="output JSONL file")
    p.add_argument("--report", help="also write the cleaning report as JSON here")
    p.add_argument("--text-column", help="CSV column with the posts (detected when omitted)")
    add_clean_arguments(p)
    p.set_defaults(func=cmd_ingest)

    help_ = TrainConfig.help()
    p = sub.add_parser("train", help="train a persona (LoRA adapter) from posts",
                       description="Train a persona from posts and save it in the registry ($PERSONAS_DIR, default ./personas).")
    p.add_argument("--posts", required=True, nargs="+", metavar="FILE", help="posts: any supported input or ingest output")
    p.add_argument("--name", required=True, help="persona name (letters, digits, '-', '_')")
    p.add_argument("--base", default=default_base(), help=help_["base_model"] + " (default: %(default)s)")
    p.add_argument("--max-steps", type=int, default=TrainConfig.max_steps, help=help_["max_steps"] + " (default: %(default)s)")
    p.add_argument("--lr", type=float, default=TrainConfig.learning_rate, help=help_["learning_rate"] + " (default: %(default)s)")
    p.add_argument("--rank", type=int, default=TrainConfig.rank, help=help_["rank"] + " (default: %(default)s)")
    p.add_argument("--alpha", type=int, default=None, help=help_["alpha"] + " (default: 2 x rank)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size, help=help_["batch_size"] + " (default: %(default)s)")
    p.add_argument("--max-length", type=int, default=TrainConfig.max_length, help=help_["max_length"] + " (default: %(default)s)")
    p.add_argument("--seed", type=int, default=TrainConfig.seed, help=help_["seed"])
    p.add_argument("--quantize", choices=["auto", "none", "4bit"], default="auto", help=help_["quantize"])
    p.add_argument("--system", help="the persona's system prompt (default: 'You are NAME. Reply as NAME would post...')")
    p.add_argument("--text-column", help="CSV column with the posts (detected when omitted)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing persona of that name once training succeeds")
    p.add_argument("--json", action="store_true", help="end with one JSON line: persona, steps, seconds, final_loss, posts_used")
    add_clean_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("list", help="list the personas in the registry")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_list)

    help_ = GenerationConfig.help()
    p = sub.add_parser("chat", help="one reply from a persona or the base model",
                       description="Send one message to a persona (by name) or to 'base', the base model.")
    p.add_argument("target", metavar="NAME|base", help="a persona name, or 'base'")
    p.add_argument("message", help="the message to send")
    p.add_argument("--system", help="system prompt (default: the persona's own; for base a helpful-assistant prompt)")
    p.add_argument("--max-new-tokens", type=int, default=GenerationConfig.max_new_tokens, help=help_["max_new_tokens"])
    p.add_argument("--temperature", type=float, default=GenerationConfig.temperature, help=help_["temperature"])
    p.add_argument("--seed", type=int, default=None, help=help_["seed"])
    p.add_argument("--json", action="store_true", help="end with one JSON line: target, reply, seconds")
    p.set_defaults(func=cmd_chat)
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
