"""`models`: the base models this machine can train on (studio.catalog), with size, licence and memory fit.

    python -m studio models [--path DIR]... [--hub ID]... [--json]
"""

from __future__ import annotations

import json
import sys

from studio.catalog import Entry, describe, entries
from studio.catalog.memory import Workload, machine
from studio.errors import StudioError

COLUMNS = ("base model (spec)", "source", "params", "on disk", "licence", "template", "CPU LoRA fp32", "GPU bf16 LoRA",
           "GPU QLoRA 4-bit")


def row(entry: Entry) -> list[str]:
    fits = [f"{f.need / 1e9:.1f} GB " + {True: "fits", False: "too big", None: "(no GPU)"}[f.fits] for f in entry.fits]
    return [entry.spec, entry.source, f"{entry.params / 1e6:,.0f}M" if entry.params else "?",
            f"{entry.disk_bytes / 1e6:,.0f} MB" if entry.disk_bytes is not None else "-", entry.licence,
            "yes" if entry.chat_template else "no", *(fits or ["?"] * 3)]


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [list(COLUMNS), *rows]) for i in range(len(COLUMNS))]
    lines = [list(COLUMNS), ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def cmd_models(args) -> int:
    """The table; a --path or --hub that cannot be used is said on stderr and the exit status is 2."""
    here, work = machine(), Workload()
    listed, left_out = entries()
    described, failed = {}, []
    for spec in [e.spec for e in listed] + (args.path or []) + (args.hub or []):
        try:
            entry = describe(spec, work, here)
            described.setdefault(entry.spec, entry)
        except StudioError as exc:
            (left_out if spec in {e.spec for e in listed} else failed).append(str(exc))
    shown = list(described.values())
    if args.json:
        print(json.dumps({"models": [{**{k: v for k, v in vars(e).items() if k != "fits"}, "path": str(e.path or ""),
                                      "fits": [vars(f) | {"fits": f.fits} for f in e.fits]} for e in shown],
                          "left_out": left_out, "errors": failed}, indent=1, default=str))
    else:
        gpu = f"{here.gpu_name}, {here.gpu_free / 1e9:.1f} GB free" if here.gpu_total else "no CUDA GPU"
        print(f"this machine: {here.ram_available / 1e9:.1f} GB RAM available of {here.ram_total / 1e9:.1f} GB; {gpu}. "
              f"Memory to train at the defaults (batch {work.batch_size}, max_length {work.max_length}, rank {work.rank}):")
        print(table([row(e) for e in shown]))
        print("\n".join([f"note: {e.spec}: {e.note}" for e in shown if e.note] + [f"left out: {p}" for p in left_out]))
    for message in failed:
        print(f"error: {message}", file=sys.stderr)
    return 2 if failed else 0


def add_commands(sub) -> None:
    """The `models` command."""
    p = sub.add_parser("models", help="base models you can train on here: size, licence, memory fit",
                       description="List the base models: the bundled one, local folders (--path, $STUDIO_MODELS_DIR) "
                                   "and the Hugging Face cache's; with parameters, size on disk, licence, chat "
                                   "template and whether training fits this machine's memory (CPU LoRA, GPU LoRA, QLoRA).")
    p.add_argument("--path", action="append", metavar="DIR", help="a local model folder to include (repeatable)")
    p.add_argument("--hub", action="append", metavar="ID", help="a Hub id to include, e.g. owner/name (repeatable)")
    p.add_argument("--json", action="store_true", help="print every field as JSON")
    p.set_defaults(func=cmd_models)
