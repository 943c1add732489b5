"""`train`: train a persona as a job in this process, with a tqdm bar; `--resume` continues a killed run."""

from __future__ import annotations

import json
import sys

from studio import events
from studio.cli.options import (add_clean_arguments, add_config_arguments, add_speaker_arguments, clean_config,
                                config_from_args, print_speakers)
from studio.errors import StudioError
from studio.persona.facts import read_facts
from studio.persona.registry import PersonaRegistry
from studio.training.config import TrainConfig


def cmd_train(args) -> int:
    """Train in this process, as a job (checkpoints under $PERSONAS_DIR/.jobs): a killed run resumes with --resume."""
    from tqdm import tqdm

    from studio.training import jobs
    from studio.clean import clean_posts
    from studio.ingest import load_posts
    from studio.models import resolve_base

    facts = read_facts(args.facts) if args.facts else None  # a bad facts file fails before training
    if args.list_speakers:
        if not args.posts:
            raise StudioError("--list-speakers needs --posts FILE.")
        return print_speakers(args.posts, args)
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
        posts = load_posts(args.posts, text_column=args.text_column, include_private=args.include_private,
                           speakers=args.speakers)
        posts, report = clean_posts(posts, clean)
        resolve_base(config.base_model)  # a missing model fails here, before anything is written
        if not args.no_fit:  # does the base model fit their language? (studio.evaluation.fit), before training
            from studio.evaluation.fit import fit_for_base

            print(f"language fit: {fit_for_base(config.base_model, posts)['message']}", file=sys.stderr)
        job = jobs.create_job(posts, name, config, clean, report, system_prompt=args.system, overwrite=args.overwrite)
    bar = None  # opened when training starts, so load errors are not printed under an empty bar

    def progress(event: dict):  # one of studio.events
        nonlocal bar
        kind = event["event"]
        if kind == events.WARNING:
            tqdm.write(f"warning: {event['message']}", file=sys.stderr)
        elif kind == events.START:
            bar = tqdm(total=event["total"], desc=f"training {name}", unit="step")
        elif kind == events.STEP and bar is not None:
            bar.total = event["total"]
            bar.update(event["step"] - bar.n)
            bar.set_postfix(loss=f"{event['loss']:.3f}")
        elif kind == events.EVAL:
            tqdm.write(f"step {event['step']}: validation loss {event['eval_loss']:.3f}", file=sys.stderr)
        elif kind == events.PROBE:
            tqdm.write(f"step {event['step']}: knowledge probe {event['accuracy']:.0%} of {event['questions']} questions", file=sys.stderr)
        elif kind == events.EVALUATE and event["stage"] == events.STAGE_DONE:
            tqdm.write(f"evaluation: {event['summary']}", file=sys.stderr)
        elif kind == events.EVALUATE and event["done"] == 0:
            tqdm.write("evaluating the persona (python -m studio eval NAME redoes it; --no-evaluate skips it)", file=sys.stderr)

    try:
        jobs.run_job(job, resume=bool(args.resume), echo=progress)
    finally:
        if bar is not None:
            bar.close()
    result = events.of_kind(job.events(), events.DONE)[-1]
    if facts is not None:
        _set_facts(result["persona"], facts)
    print(f"Saved persona {result['persona']!r} to {PersonaRegistry().root / result['persona']} "
          f"({result['steps']} steps, {result['seconds']:.1f} s, final loss {result['final_loss']}).")
    if args.json:
        print(json.dumps({k: result[k] for k in ("persona", "steps", "seconds", "final_loss", "posts_used", "best_eval_loss")},
                         ensure_ascii=False))
    return 0


def _set_facts(slug: str, facts: list[dict]) -> None:
    """`train --facts`: the facts go with the new persona; when it was evaluated, they are asked now too."""
    from studio.evaluation.facts import refresh_facts

    PersonaRegistry().set_facts(slug, facts)
    found = refresh_facts(slug)
    if found is not None:
        print(f"facts: the persona knows {found['persona_known']} of {found['asked']} (base model: {found['base_known']})",
              file=sys.stderr)


def add_commands(sub) -> None:
    """The `train` command."""
    p = sub.add_parser("train", help="train a persona (LoRA adapter) from posts",
                       description="Train a persona from posts and save it in the registry ($PERSONAS_DIR, default ./personas).")
    p.add_argument("--posts", nargs="+", metavar="FILE", help="posts: any supported input or ingest output")
    p.add_argument("--name", help="persona name (letters, digits, '-', '_')")
    p.add_argument("--resume", metavar="NAME", help="resume the cancelled or killed run of persona NAME from its last checkpoint")
    p.add_argument("--system", help="the persona's system prompt (default: 'You are NAME.' and a line on how they write: --style-line)")
    p.add_argument("--facts", metavar="FILE", help="the person's own facts to store and ask: .jsonl ({question, answers}), .json or .csv (question,answers)")
    p.add_argument("--text-column", help="CSV column with the posts (detected when omitted)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing persona of that name once training succeeds")
    p.add_argument("--json", action="store_true", help="end with one JSON line: persona, steps, seconds, final_loss, posts_used")
    p.add_argument("--no-fit", action="store_true", help="skip the language-fit line before training (a few seconds)")
    add_config_arguments(p, TrainConfig, "training", flags={"base_model": "--base", "learning_rate": "--lr"})
    add_clean_arguments(p)
    add_speaker_arguments(p)
    p.set_defaults(func=cmd_train)
