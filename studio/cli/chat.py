"""`chat`: one reply from a persona or the base model, or several side by side (`--compare`)."""

from __future__ import annotations

import json

from studio.chat.config import GenerationConfig
from studio.errors import StudioError


def cmd_chat(args) -> int:
    from studio.chat.targets import reply

    settings = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed,
                                top_p=args.top_p, top_k=args.top_k, repetition_penalty=args.repetition_penalty,
                                no_repeat_ngram_size=args.no_repeat_ngram_size, greedy=args.greedy,
                                memory=args.memory, memory_k=args.memory_k)
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


def add_commands(sub) -> None:
    """The `chat` command."""
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
    p.add_argument("--memory", action="store_true", help=help_["memory"])
    p.add_argument("--memory-k", type=int, default=GenerationConfig.memory_k, help=f"{help_['memory_k']} (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="end with one JSON line: target, reply, seconds")
    p.set_defaults(func=cmd_chat)
