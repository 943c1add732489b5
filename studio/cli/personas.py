"""CLI commands for the persona registry, sharing and the Hub (the Personas tab calls the same functions).

    python -m studio show|versions NAME [--json];  rename OLD NEW;  delete NAME|NAME@vN;  restore NAME@vN
    python -m studio export NAME [--out PATH] [--no-data] [--character-card];  import FILE [--name N] [--base B]
    python -m studio push NAME --repo USER/REPO [--private] [--force --reason TEXT];  pull USER/REPO [--name N] [--base B];  card NAME
"""

from __future__ import annotations

import json
import sys

from studio.cli.gate import add_force_arguments
from studio.errors import StudioError
from studio.persona.registry import PersonaRegistry, version_ref
from studio.persona.summary import persona_row


def cmd_list(args) -> int:
    registry = PersonaRegistry()
    personas = registry.list()
    if args.json:
        print(json.dumps([{"slug": p.slug, "name": p.name, "base_model": p.base_model.get("id"),
                           "posts": p.data.get("kept"), "steps": p.metrics.get("steps"),
                           "final_loss": p.metrics.get("final_loss"), "created_at": p.created_at, **persona_row(p)}
                          for p in personas], ensure_ascii=False))
        return 0
    if not personas:
        print(f"No personas in {registry.root}. Train one: python -m studio train --posts FILE --name NAME")
    for p in personas:
        row = persona_row(p)
        print(f"{p.slug:24} {p.name:24} v{row['version']:<3} posts={p.data.get('kept', '?'):<6} steps={p.metrics.get('steps', '?'):<5} "
              f"loss={p.metrics.get('final_loss', '?')}  val={row['validation_loss'] if row['validation_loss'] is not None else '-'}  "
              f"adapter={row['adapter_mb']} MB  updated={p.updated_at[:10]}  base={p.base_model.get('id', '?')}"
              + (f"  eval: {row['evaluation']}" if row["evaluation"] else ""))
    for problem in registry.problems():
        print(f"broken: {problem}", file=sys.stderr)
    return 0


def cmd_show(args) -> int:
    from studio.persona.summary import describe

    persona = PersonaRegistry().get(args.name)
    if args.json:
        print(json.dumps({**persona.to_json(), "path": str(persona.path), **persona_row(persona)}, ensure_ascii=False, indent=2))
    else:
        print(describe(persona))
    return 0


def cmd_versions(args) -> int:
    versions = PersonaRegistry().versions(args.name)
    if args.json:
        print(json.dumps([{"ref": version_ref(p.base_slug, p.version), "current": i == 0, **persona_row(p)}
                          for i, p in enumerate(versions)], ensure_ascii=False))
        return 0
    for i, p in enumerate(versions):
        row = persona_row(p)
        print(f"{version_ref(p.base_slug, p.version):<{len(p.base_slug) + 6}} {'current' if i == 0 else '       '} trained {p.created_at}  "
              f"steps={row['steps']}  loss={row['final_loss']}  val={row['validation_loss']}  posts={row['posts']}")
    return 0


def _version_ref(ref: str, number: int | None) -> tuple[str, int]:
    from studio.persona.registry import parse_ref

    name, parsed = parse_ref(ref)
    if parsed is not None:
        return name, parsed
    if number is None:
        raise StudioError(f"Say which version: NAME@vN (e.g. {ref}@v1); see python -m studio versions {ref}")
    return ref, number


def cmd_restore(args) -> int:
    name, number = _version_ref(args.ref, args.version)
    persona = PersonaRegistry().restore(name, number)
    print(f"{persona.slug} is now v{persona.version}; the version it replaced is kept (python -m studio versions {persona.slug}).")
    return 0


def cmd_rename(args) -> int:
    persona = PersonaRegistry().rename(args.name, args.new_name)
    print(f"Renamed to {persona.name!r} ({persona.slug}).")
    return 0


def cmd_delete(args) -> int:
    PersonaRegistry().delete(args.name)
    print(f"Deleted {args.name}.")
    return 0


def cmd_export(args) -> int:
    from studio.evaluation.gate import character_card_gated, export_gated

    if args.character_card:  # through the publish gate too: the card quotes real posts
        path = character_card_gated(args.name, args.out, force=args.force, reason=args.reason or "")
    else:  # through the publish gate (a fresh result is reused)
        path = export_gated(args.name, args.out, include_data=not args.no_data, force=args.force, reason=args.reason or "")
    print(f"Wrote {path}")
    return 0


def cmd_import(args) -> int:
    from studio.persona.share import import_zip

    persona = import_zip(args.file, name=args.name, base=args.base, overwrite=args.overwrite)
    print(f"Imported {persona.name!r} as {persona.slug} (v{persona.version}).")
    return 0


def cmd_push(args) -> int:
    from studio.evaluation.gate import push_gated

    # the token: HF_TOKEN only, never an argument; consent, then the publish gate (a fresh result is reused)
    url = push_gated(args.name, args.repo, private=args.private, force=args.force, reason=args.reason or "")
    print(f"Pushed {args.name} to {url}")
    return 0


def cmd_pull(args) -> int:
    from studio.persona.hub import pull

    persona = pull(args.repo, name=args.name, base=args.base, overwrite=args.overwrite, revision=args.revision)
    print(f"Pulled {args.repo} as {persona.slug} (v{persona.version}); chat with: python -m studio chat {persona.slug} \"Hi\"")
    return 0


def cmd_card(args) -> int:
    from studio.persona.card import build_card, write_card

    persona = PersonaRegistry().get(args.name)
    if args.print:
        print(build_card(persona, include_examples=args.include_examples))
    else:
        print(f"Wrote {write_card(persona, include_examples=args.include_examples)}")
    return 0


def cmd_facts(args) -> int:
    """`facts NAME`: list (default), --add "Q" "A1; A2", --remove N, or --file facts.jsonl|csv (replaces them all)."""
    from studio.persona import facts

    registry = PersonaRegistry()
    persona = registry.get(args.name)
    if args.file:
        persona = registry.set_facts(persona.slug, facts.read_facts(args.file))
    elif args.add:
        persona = registry.set_facts(persona.slug, facts.add_fact(persona.facts, *args.add))
    elif args.remove is not None:
        persona = registry.set_facts(persona.slug, facts.remove_fact(persona.facts, args.remove))
    if args.json:
        print(json.dumps(persona.facts, ensure_ascii=False))
        return 0
    for i, fact in enumerate(persona.facts, 1):
        print(f"{i}. {fact['question']} -> {'; '.join(fact['answers'])}")
    if not persona.facts:
        print(f'{persona.slug} has no facts yet. Add one: python -m studio facts {persona.slug} --add "趣味は？" "アニメ; ドライブ"')
    return 0


def _add_facts_parser(sub, name: str, help_: str) -> None:
    p = sub.add_parser(name, help=help_, description="A persona's own facts: questions about the person and the answers "
                       "they would give. The evaluation asks each in the chat format and as plain text, base model against persona.")
    p.add_argument("name", metavar="NAME|NAME@vN")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list the facts, numbered (the default)")
    action.add_argument("--add", nargs=2, metavar=("QUESTION", "ANSWERS"), help="add a fact; answers separated by ';' (same question: replaced)")
    action.add_argument("--remove", type=int, metavar="N", help="remove fact N (as --list numbers them)")
    action.add_argument("--file", metavar="FILE", help="replace all facts with those of a .jsonl ({question, answers}), .json or .csv (question,answers) file")
    p.add_argument("--json", action="store_true", help="print the facts as one JSON array")
    p.set_defaults(func=cmd_facts)


def add_commands(sub) -> None:
    """The registry, sharing and Hub commands (the Personas tab does the same)."""
    _add_facts_parser(sub, "facts", "list or edit a persona's own facts (questions and answers the evaluation asks)")
    group = sub.add_parser("personas", help="persona commands (personas facts NAME ...)").add_subparsers(
        dest="personas_command", required=True, metavar="COMMAND")
    _add_facts_parser(group, "facts", "list or edit a persona's own facts")
    p = sub.add_parser("list", help="list the personas in the registry")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="a persona's data report, settings, metrics and versions")
    p.add_argument("name", metavar="NAME|NAME@vN")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("versions", help="list a persona's versions (retraining keeps the earlier ones)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("restore", help="make an earlier version the current one (the current one is kept)")
    p.add_argument("ref", metavar="NAME@vN")
    p.add_argument("--version", type=int, help="the version number, when NAME has no @vN")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("rename", help="rename a persona (its folder and versions move with it)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("new_name", metavar="NEW_NAME")
    p.set_defaults(func=cmd_rename)

    p = sub.add_parser("delete", help="delete a persona with its versions, or one earlier version (NAME@vN)")
    p.add_argument("name", metavar="NAME|NAME@vN")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("export", help="write a persona as one .zip (or a Character Card V2 JSON)")
    p.add_argument("name", metavar="NAME|NAME@vN")
    p.add_argument("--out", help="file or folder to write (default: ./SLUG.zip)")
    p.add_argument("--no-data", action="store_true", help="leave the cleaned posts (data/) out of the .zip")
    p.add_argument("--character-card", action="store_true", help="write a Character Card V2 JSON (SillyTavern) instead")
    add_force_arguments(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="add a persona from an exported .zip (checked before anything is written)")
    p.add_argument("file", metavar="FILE.zip")
    p.add_argument("--name", help="name it differently (default: the name in the archive)")
    p.add_argument("--base", help="base model to use here when the archive's cannot be found (a local folder or Hub id)")
    p.add_argument("--overwrite", action="store_true", help="replace a persona of that name (it is kept as a version)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("push", help="upload a persona (adapter, model card, manifest) to the Hugging Face Hub",
                       description="Upload to the Hub. The token is read from HF_TOKEN (never a command-line argument).")
    p.add_argument("name", metavar="NAME|NAME@vN")
    p.add_argument("--repo", required=True, metavar="USER/REPO", help="the Hub repo (created when missing)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    add_force_arguments(p)
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("pull", help="bring a Persona Studio repo, or any PEFT LoRA adapter repo, into the registry")
    p.add_argument("repo", metavar="USER/REPO")
    p.add_argument("--name", help="persona name (default: the repo name)")
    p.add_argument("--base", help="base model here (default: the one the adapter names)")
    p.add_argument("--revision", help="branch, tag or commit")
    p.add_argument("--overwrite", action="store_true", help="replace a persona of that name (it is kept as a version)")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("card", help="(re)write the persona's model card, README.md")
    p.add_argument("name", metavar="NAME|NAME@vN")
    p.add_argument("--include-examples", action="store_true", help="include examples of cleaned posts (only with consent)")
    p.add_argument("--print", action="store_true", help="print the card instead of writing it")
    p.set_defaults(func=cmd_card)
