"""Options built from the settings dataclasses: one flag per field, with its default and help text."""

from __future__ import annotations

import argparse
import dataclasses


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


def add_speaker_arguments(parser: argparse.ArgumentParser) -> None:
    """--speaker NAME (repeatable) and --list-speakers, for commands that read chat logs."""
    group = parser.add_argument_group("chat logs (LINE, WhatsApp, Telegram, Discord, Messenger, Instagram)")
    group.add_argument("--speaker", dest="speakers", action="append", metavar="NAME",
                       help="keep the messages of NAME (repeatable); needed when a chat log has several speakers")
    group.add_argument("--list-speakers", action="store_true", help="print each speaker with their number of messages and exit")


def print_speakers(paths, args) -> int:
    """--list-speakers: one `NAME<TAB>COUNT` line per speaker, most messages first."""
    from studio.ingest import list_speakers

    counts = list_speakers(paths, text_column=args.text_column, include_private=args.include_private)
    for name, count in counts:
        print(f"{name}\t{count}")
    if not counts:
        print("no chat speakers in these files: every post is used")
    return 0


def clean_config(args):
    from studio.clean import CleanConfig

    return config_from_args(CleanConfig, args)
