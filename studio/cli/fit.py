"""`fit`: does the base model fit the posts' language? (studio.evaluation.fit), measured before any training."""

from __future__ import annotations

import json

from studio.cli.options import add_clean_arguments, clean_config
from studio.config import default_base


def fit_line(report: dict) -> str:
    return f"language fit: {report['message']}"


def cmd_fit(args) -> int:
    from studio.clean import clean_posts
    from studio.evaluation.fit import fit_for_base
    from studio.ingest import load_posts

    posts, _ = clean_posts(load_posts(args.posts, text_column=args.text_column, include_private=args.include_private), clean_config(args))
    report = fit_for_base(args.base or default_base(), posts)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else fit_line(report))
    return 0


def add_commands(sub) -> None:
    """The `fit` command."""
    p = sub.add_parser("fit", help="does the base model fit the posts' language? (loss per character, knowledge probe)",
                       description="Measure, before training, what the base model can do in the posts' languages: its loss "
                                   "per character on a seeded sample of the posts and the knowledge probe in each language.")
    p.add_argument("--posts", nargs="+", metavar="FILE", required=True, help="posts: any supported input or ingest output")
    p.add_argument("--base", help="base model: 'bundled' (default), a local folder or a Hub id")
    p.add_argument("--text-column", help="CSV column with the posts (detected when omitted)")
    p.add_argument("--json", action="store_true", help="print every figure as JSON")
    add_clean_arguments(p)
    p.set_defaults(func=cmd_fit)
