"""Command line: the same service functions as the UI, for headless use, CI and benchmarks.

    python -m studio ingest INPUT... --out posts.jsonl [--report report.json]
    python -m studio train --posts FILE --name NAME [--base MODEL] [--max-steps N] [--lr LR] [--rank R] [--json]
    python -m studio list [--json]
    python -m studio chat NAME|base|NAME@vN "MESSAGE" [--system TEXT] [--max-new-tokens N] [--seed S] [--greedy] [--json]
    python -m studio chat --compare base,NAME1,NAME2 "MESSAGE"     (one batched generation, side by side)
    python -m studio eval NAME [--prompts N] [--seed S] [--json]
    python -m studio show|versions|rename|delete|restore|export|import|push|pull|card ...  (studio/cli_personas.py)

Errors a user can fix are printed as one line on stderr with exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

from studio import __version__
from studio.cli.personas import add_persona_commands
from studio.cli.personas import persona_summary as _summary
from studio.chat.config import GenerationConfig
from studio.training.config import TrainConfig
from studio.errors import StudioError
from studio.files import write_json, write_jsonl
from studio.persona.registry import PersonaRegistry


def add_config_arguments(parser, cls, title: str, flags: dict[str, str] | None = None, skip: tuple = ()) -> None:
    """One option per field of a settings dataclass, with its default and help text
    (e.g. --replies drop, --no-near-duplicates, --eval-steps 10)."""
    group = parser.add_argument_group(title)
    defaults = cls()
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = (flags or {}).get(f.name, "--" + f.name.replace("_", "-"))
        default, help_ = getattr(defaults, f.name), f.metadata.get("help", "").replace("%", "%%")
        if isinstance(default, bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default, help=help_)
        elif isinstance(default, list):
            group.add_argument(flag, dest=f.name, nargs="*", default=default, metavar="WORD", help=help_)
        else:
            group.add_argument(flag, dest=f.name, type=type(default), default=default, help=f"{help_} (default: %(default)s)")


def config_from_args(cls, args):
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)})


def add_clean_arguments(parser: argparse.ArgumentParser) -> None:
    from studio.clean import CleanConfig

    add_config_arguments(parser, CleanConfig, "cleaning (defaults suit most exports)")
    parser.add_argument("--include-private", action="store_true",
                        help="also read Mastodon followers-only and direct posts (left out by default)")


def clean_config(args):
    from studio.clean import CleanConfig

    return config_from_args(CleanConfig, args)


def cmd_ingest(args) -> int:
    from studio.clean import clean_posts
    from studio.ingest import load_posts

    posts = load_posts(args.inputs, text_column=args.text_column, include_private=args.include_private)
    posts, report = clean_posts(posts, clean_config(args))
    write_jsonl(args.out, (p.to_dict() for p in posts))
    if args.report:
        write_json(args.report, report.to_dict())
    print(f"{report.summary()} -> {args.out}")
    return 0


def cmd_train(args) -> int:
    """Train in this process, as a job (checkpoints under $PERSONAS_DIR/.jobs): a killed run resumes with --resume."""
    from tqdm import tqdm

    from studio.training import jobs
    from studio.clean import clean_posts
    from studio.ingest import load_posts
    from studio.models import resolve_base

    if args.resume:
        job = jobs.get_job(args.resume)
        if not job.resumable():
            raise StudioError(f"{job.slug!r} cannot be resumed: it is {job.status()['status']} "
                              "and resumes need a cancelled, failed or interrupted run with a checkpoint.")
        name = job.request()["name"]
    else:
        if not args.posts or not args.name:
            raise StudioError("train needs --posts FILE and --name NAME (or --resume NAME).")
        name = args.name
        PersonaRegistry().check_available(name, args.overwrite)  # a bad or taken name fails before anything loads
        config, clean = config_from_args(TrainConfig, args), clean_config(args)
        posts = load_posts(args.posts, text_column=args.text_column, include_private=args.include_private)
        posts, report = clean_posts(posts, clean)
        resolve_base(config.base_model)  # a missing model fails here, before anything is written
        job = jobs.create_job(posts, name, config, clean, report, system_prompt=args.system, overwrite=args.overwrite)
    bar = None  # opened when training starts, so load errors are not printed under an empty bar

    def progress(event: dict):
        nonlocal bar
        if event["event"] == "warning":
            tqdm.write(f"warning: {event['message']}", file=sys.stderr)
        elif event["event"] == "start":
            bar = tqdm(total=event["total"], desc=f"training {name}", unit="step")
        elif event["event"] == "step" and bar is not None:
            bar.total = event["total"]
            bar.update(event["step"] - bar.n)
            bar.set_postfix(loss=f"{event['loss']:.3f}")
        elif event["event"] == "eval":
            tqdm.write(f"step {event['step']}: validation loss {event['eval_loss']:.3f}", file=sys.stderr)
        elif event["event"] == "probe":
            tqdm.write(f"step {event['step']}: knowledge probe {event['accuracy']:.0%} of {event['questions']} questions", file=sys.stderr)
        elif event["event"] == "evaluate" and event["stage"] == "done":
            tqdm.write(f"evaluation: {event['summary']}", file=sys.stderr)
        elif event["event"] == "evaluate" and event["done"] == 0:
            tqdm.write("evaluating the persona (python -m studio eval NAME redoes it; --no-evaluate skips it)", file=sys.stderr)

    try:
        jobs.run_job(job, resume=bool(args.resume), echo=progress)
    finally:
        if bar is not None:
            bar.close()
    result = [e for e in job.events() if e["event"] == "done"][-1]
    print(f"Saved persona {result['persona']!r} to {PersonaRegistry().root / result['persona']} "
          f"({result['steps']} steps, {result['seconds']:.1f} s, final loss {result['final_loss']}).")
    if args.json:
        print(json.dumps({k: result[k] for k in ("persona", "steps", "seconds", "final_loss", "posts_used", "best_eval_loss")},
                         ensure_ascii=False))
    return 0


def cmd_list(args) -> int:
    registry = PersonaRegistry()
    personas = registry.list()
    if args.json:
        print(json.dumps([{"slug": p.slug, "name": p.name, "base_model": p.base_model.get("id"),
                           "posts": p.data.get("kept"), "steps": p.metrics.get("steps"),
                           "final_loss": p.metrics.get("final_loss"), "created_at": p.created_at, **_summary(p)}
                          for p in personas], ensure_ascii=False))
        return 0
    if not personas:
        print(f"No personas in {registry.root}. Train one: python -m studio train --posts FILE --name NAME")
    for p in personas:
        row = _summary(p)
        print(f"{p.slug:24} {p.name:24} v{row['version']:<3} posts={p.data.get('kept', '?'):<6} steps={p.metrics.get('steps', '?'):<5} "
              f"loss={p.metrics.get('final_loss', '?')}  val={row['validation_loss'] if row['validation_loss'] is not None else '-'}  "
              f"adapter={row['adapter_mb']} MB  updated={p.updated_at[:10]}  base={p.base_model.get('id', '?')}"
              + (f"  eval: {row['evaluation']}" if row["evaluation"] else ""))
    for problem in registry.problems():
        print(f"broken: {problem}", file=sys.stderr)
    return 0


def cmd_chat(args) -> int:
    from studio.chat.targets import reply

    settings = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed,
                                top_p=args.top_p, top_k=args.top_k, repetition_penalty=args.repetition_penalty,
                                no_repeat_ngram_size=args.no_repeat_ngram_size, greedy=args.greedy)
    if args.compare:
        return compare(args, settings)
    if args.message is None:
        raise StudioError('chat needs a target and a message: python -m studio chat NAME|base "MESSAGE"')
    answer = reply(args.target, args.message, system_prompt=args.system, settings=settings)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print(answer.text)
    return 0


def cmd_eval(args) -> int:
    """Evaluate a persona (style, copying, held-out loss, knowledge probe) and store it in persona.json."""
    from tqdm import tqdm

    from studio.evaluation.config import EvalConfig
    from studio.evaluation.run import STAGES, evaluate_persona

    config = config_from_args(EvalConfig, args)
    registry = PersonaRegistry()
    registry.get(args.name)  # an unknown name fails before the model loads
    with tqdm(total=len(STAGES), desc=f"evaluating {args.name}", unit="stage", file=sys.stderr) as bar:
        def progress(event: dict):
            bar.set_postfix_str(event["stage"])
            bar.update(event["done"] - bar.n)

        result = evaluate_persona(args.name, config, registry, progress=progress)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    from studio.evaluation.report import metrics_rows

    print(result["summary"])
    print(f"verdict: {'; '.join(f'{k}: {v}' for k, v in result['verdicts'].items())}")
    print(f"{'measure':40} {'base':>10} {'persona':>10} {'their posts':>12}")
    for measure, base, persona, real in metrics_rows(result):
        cells = ["-" if x is None else f"{x:.3g}" for x in (base, persona, real)]
        print(f"{measure:40} {cells[0]:>10} {cells[1]:>10} {cells[2]:>12}")
    lost = result["knowledge"]["lost"] if result["knowledge"] else []
    if lost:
        print(f"questions lost: {', '.join(lost)}")
    for sample in result["samples"][:4]:
        flag = f"COPY ({', '.join(sample['reasons'])})" if sample["copied"] else "own words"
        print(f"- {sample['prompt']} -> {sample['persona'][:100]!r} [{flag}; nearest: {sample['nearest'][:60]!r}]")
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result["timings"].items())
    print(f"stored in {registry.get(args.name).path / 'persona.json'} ({result['seconds']:.1f} s: {timings})")
    return 0


def compare(args, settings) -> int:
    """`chat --compare base,A,B "MESSAGE"`: one batched generation, the replies printed side by side."""
    import shutil
    import textwrap

    from studio.chat.arena import Pane, arena_stream

    message = args.message if args.message is not None else args.target
    targets = [t.strip() for t in args.compare.split(",") if t.strip()]
    if not targets or message is None:
        raise StudioError('--compare needs targets and a message: --compare base,NAME "MESSAGE"')
    replies = list(arena_stream(message, [Pane(t, args.system, settings) for t in targets]))[-1]
    if args.json:
        print(json.dumps([{"target": r.target, "reply": r.text, "note": r.note} for r in replies], ensure_ascii=False))
        return 0
    width = max(20, (shutil.get_terminal_size((120, 20)).columns - 3 * (len(replies) - 1)) // len(replies))
    columns = [[r.target, "-" * min(width, 40)] + textwrap.wrap(r.text or "(empty)", width) for r in replies]
    for i in range(max(map(len, columns))):
        cells = [c[i] if i < len(c) else "" for c in columns]
        print(" | ".join(cell + " " * (width - _display_width(cell)) for cell in cells).rstrip())
    return 0


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


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

    p = sub.add_parser("train", help="train a persona (LoRA adapter) from posts",
                       description="Train a persona from posts and save it in the registry ($PERSONAS_DIR, default ./personas).")
    p.add_argument("--posts", nargs="+", metavar="FILE", help="posts: any supported input or ingest output")
    p.add_argument("--name", help="persona name (letters, digits, '-', '_')")
    p.add_argument("--resume", metavar="NAME", help="resume the cancelled or killed run of persona NAME from its last checkpoint")
    p.add_argument("--system", help="the persona's system prompt (default: 'You are NAME.')")
    p.add_argument("--text-column", help="CSV column with the posts (detected when omitted)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing persona of that name once training succeeds")
    p.add_argument("--json", action="store_true", help="end with one JSON line: persona, steps, seconds, final_loss, posts_used")
    add_config_arguments(p, TrainConfig, "training", flags={"base_model": "--base", "learning_rate": "--lr"})
    add_clean_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("list", help="list the personas in the registry")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_list)

    help_ = GenerationConfig.help()
    p = sub.add_parser("chat", help="one reply from a persona or the base model",
                       description="Send one message to a persona (by name) or to 'base', the base model.")
    p.add_argument("target", metavar="NAME|base", help="a persona name, or 'base' (leave out with --compare)")
    p.add_argument("message", nargs="?", help="the message to send")
    p.add_argument("--compare", metavar="T1,T2,...", help="answer with several targets at once (e.g. base,koume,andre), side by side")
    p.add_argument("--system", help="system prompt (default: the persona's own; for base a helpful-assistant prompt)")
    p.add_argument("--max-new-tokens", type=int, default=GenerationConfig.max_new_tokens, help=help_["max_new_tokens"])
    p.add_argument("--temperature", type=float, default=GenerationConfig.temperature, help=help_["temperature"])
    p.add_argument("--seed", type=int, default=None, help=help_["seed"])
    for name in ("top_p", "top_k", "repetition_penalty", "no_repeat_ngram_size"):
        default = getattr(GenerationConfig, name)
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default, help=f"{help_[name]} (default: {default})")
    p.add_argument("--greedy", action="store_true", help=help_["greedy"])
    p.add_argument("--json", action="store_true", help="end with one JSON line: target, reply, seconds")
    p.set_defaults(func=cmd_chat)

    from studio.evaluation.config import EvalConfig

    p = sub.add_parser("eval", help="evaluate a persona: style, copying, held-out loss, knowledge kept",
                       description="Evaluate a persona against its base model and store the result in its persona.json.")
    p.add_argument("name", metavar="NAME", help="a persona name")
    p.add_argument("--json", action="store_true", help="print the whole evaluation as one JSON object")
    add_config_arguments(p, EvalConfig, "evaluation")
    p.set_defaults(func=cmd_eval)
    add_persona_commands(sub)
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
