"""`eval`: evaluate a persona (style, copying, held-out loss, knowledge kept) and store it in persona.json."""

from __future__ import annotations

import json
import sys

from studio.cli.options import add_config_arguments, config_from_args
from studio.evaluation.config import EvalConfig
from studio.persona.registry import PersonaRegistry


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
    if result.get("facts"):
        f = result["facts"]
        print(f"their facts: persona knows {f['persona_known']} of {f['asked']}, base {f['base_known']} (chat format: "
              f"{f['by_format']['chat']['persona_known']}, plain: {f['by_format']['plain']['persona_known']})")
    if result.get("extraction"):
        print("extraction rate (persona / base): " + ", ".join(
            f"k={k}: {v['persona']:.0%} / {v['base']:.0%} of {v['posts']}" for k, v in result["extraction"].items() if v["posts"]))
    for sample in result["samples"][:4]:
        flag = f"COPY ({', '.join(sample['reasons'])})" if sample["copied"] else "own words"
        print(f"- {sample['prompt']} -> {sample['persona'][:100]!r} [{flag}; nearest: {sample['nearest'][:60]!r}]")
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result["timings"].items())
    print(f"stored in {registry.get(args.name).path / 'persona.json'} ({result['seconds']:.1f} s: {timings})")
    return 0


def add_commands(sub) -> None:
    """The `eval` command."""
    p = sub.add_parser("eval", help="evaluate a persona: style, copying, held-out loss, knowledge kept",
                       description="Evaluate a persona against its base model and store the result in its persona.json.")
    p.add_argument("name", metavar="NAME", help="a persona name")
    p.add_argument("--json", action="store_true", help="print the whole evaluation as one JSON object")
    add_config_arguments(p, EvalConfig, "evaluation")
    p.set_defaults(func=cmd_eval)
