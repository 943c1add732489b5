"""`ingest`: read and clean posts, write them as JSON lines with the cleaning report."""

from __future__ import annotations

from studio.cli.options import add_clean_arguments, add_speaker_arguments, clean_config, print_speakers
from studio.errors import InputError
from studio.files import write_json, write_jsonl


def cmd_ingest(args) -> int:
    from studio.clean import clean_posts
    from studio.ingest import load_posts

    if args.list_speakers:
        return print_speakers(args.inputs, args)
    if not args.out:
        raise InputError("ingest needs --out FILE (where the cleaned posts are written), or --list-speakers.")
    posts = load_posts(args.inputs, text_column=args.text_column, include_private=args.include_private, speakers=args.speakers)
    posts, report = clean_posts(posts, clean_config(args))
    write_jsonl(args.out, (p.to_dict() for p in posts))
    if args.report:
        write_json(args.report, report.to_dict())
    print(f"{report.summary()} -> {args.out}")
    return 0


def add_commands(sub) -> None:
    """The `ingest` command."""
    p = sub.add_parser("ingest", help="read and clean posts, write them as JSONL",
                       description="Read posts (X archive .zip or tweets.js, Mastodon archive or outbox.json, "
                                   ".txt, .csv, .tsv, .jsonl, .json, chat logs), clean them, write JSONL and a report.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files with posts")
    p.add_argument("--out", help="output JSONL file (required unless --list-speakers)")
    p.add_argument("--report", help="also write the cleaning report as JSON here")
    p.add_argument("--text-column", help="CSV column with the posts (detected when omitted)")
    add_clean_arguments(p)
    add_speaker_arguments(p)
    p.set_defaults(func=cmd_ingest)
