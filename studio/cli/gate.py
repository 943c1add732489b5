"""`gate` and `consent`: the publish gate on its own, and a persona's consent statement.

    python -m studio gate NAME|NAME@vN [--prompts N] [--extraction-posts N] [--force --reason TEXT] [--json]
    python -m studio consent NAME|NAME@vN "STATEMENT"      (who agreed, and when)

`push` and `export` run the gate themselves (reusing a fresh result) and take --force --reason TEXT too.
"""

from __future__ import annotations

import json

from studio.cli.options import add_config_arguments, config_from_args
from studio.persona.gate import GateConfig


def print_record(record: dict) -> None:
    """The gate's outcome, figures and offending samples, as the CLI shows them."""
    f = record["figures"]
    print(("PASSED" if record["passed"] else "REFUSED: " + "; ".join(record["reasons"]))
          + (f"  (published anyway: {record['override']['reason']})" if record.get("override") else ""))
    ext = "-" if f.get("extraction_rate") is None else f"{f['extraction_rate']:.1%} (base {f['extraction_base']:.1%})"
    print(f"private data: {f['private_hits']} in {f['samples']} samples; copy rate: "
          f"{'-' if f['copy_rate'] is None else format(f['copy_rate'], '.1%')} of {f['replies']} replies; "
          f"extraction at {f['prefix_tokens']} tokens: {ext} of {f['extraction_tested']} posts; {f['seconds']:.1f} s")
    for o in record.get("offending", []):
        extra = f" [{o['value']}: {o['why']}]" if o["kind"] == "private" else f" [{o['why']}]"
        print(f"- {o['kind']}: {o['text'][:140]!r}{extra}" + (f"\n    post: {o['post'][:140]!r}" if o.get("post") else ""))


def cmd_gate(args) -> int:
    from studio.evaluation.gate import run_gate

    record = run_gate(args.name, config_from_args(GateConfig, args), force=args.force, reason=args.reason or "")
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    else:
        print_record(record)
    return 0 if record["passed"] or record.get("override") else 1


def cmd_consent(args) -> int:
    from studio.persona.card import write_card
    from studio.persona.consent import record_consent

    persona = record_consent(args.name, args.statement)
    write_card(persona)
    print(f"Consent recorded for {persona.slug}: {persona.extra['consent']['statement']!r}")
    return 0


def add_force_arguments(parser) -> None:
    """--force and --reason, for push and export."""
    parser.add_argument("--force", action="store_true", help="publish although the publish gate refuses (needs --reason; "
                        "the override and the reason are written into the model card)")
    parser.add_argument("--reason", help="why the persona is published anyway (with --force)")


def add_commands(sub) -> None:
    p = sub.add_parser("gate", help="the publish gate: check a persona for copied posts and private data",
                       description="Sample the persona and run the extraction test; refuse it when it reproduces private "
                                   "data or copies training posts above the thresholds (README: Publish gate). "
                                   "Exit status 1 when refused.")
    p.add_argument("name", metavar="NAME|NAME@vN")
    p.add_argument("--json", action="store_true", help="print the gate's record as one JSON object")
    add_force_arguments(p)
    add_config_arguments(p, GateConfig, "gate settings")
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser("consent", help="record who agreed to a persona, and when (push needs it)")
    p.add_argument("name", metavar="NAME|NAME@vN")
    p.add_argument("statement", metavar="STATEMENT", help='e.g. "Koume agreed in person on 2026-11-30 to a public persona"')
    p.set_defaults(func=cmd_consent)
