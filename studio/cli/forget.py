"""`forget`: remove posts from a persona and retrain it from its saved settings into a new version
(studio.training.forget); then the publish gate checks that the removed text is not reproduced.

    python -m studio forget NAME --post ID [--post ID ...] [--matching TEXT] [--delete-old-versions] [--json]
"""

from __future__ import annotations

import json
import sys

from studio.cli.gate import print_record


def cmd_forget(args) -> int:
    from studio.evaluation.gate import run_gate
    from studio.persona.registry import PersonaRegistry
    from studio.training import forget

    registry = PersonaRegistry()
    plan = forget.plan_forget(args.name, args.post, args.matching, registry)
    print(f"forgetting {len(plan.removed)} post(s) of {plan.persona.slug}: "
          + ", ".join(row.get("id") or row["ref"] for row in plan.removed), file=sys.stderr)
    result = forget.retrain(plan, registry)
    deleted = forget.delete_old_versions(plan, registry) if args.delete_old_versions else []
    kept = [p.slug for p in forget.versions_containing(plan, registry)]
    record = run_gate(result.persona.slug, registry=registry, forgotten=plan.texts)
    if args.json:
        print(json.dumps({"persona": result.persona.slug, "version": registry.get(result.persona.slug).version,
                          "forgotten": len(plan.removed), "deleted_versions": deleted, "versions_still_containing": kept,
                          "gate": record}, ensure_ascii=False))
        return 0 if record["passed"] else 1
    print(f"Retrained {result.persona.slug} without them: now v{registry.get(result.persona.slug).version} "
          f"({result.steps} steps, {result.seconds:.1f} s).")
    if deleted:
        print(f"Deleted the old versions that contained them: {', '.join(deleted)}")
    if kept:
        print(f"Old versions still containing them: {', '.join(kept)} (delete them with --delete-old-versions, "
              f"or python -m studio delete NAME@vN)")
    print_record(record)
    return 0 if record["passed"] else 1


def add_commands(sub) -> None:
    p = sub.add_parser("forget", help="remove posts from a persona and retrain it into a new version",
                       description="Remove posts (by id, or containing a text) from a persona's data, retrain from its "
                                   "saved settings into a new version, and check with the publish gate that the removed "
                                   "text is not reproduced. Exit status 1 when the gate refuses the new version.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--post", action="append", metavar="ID", help="a post's id, or train:N / validation:N (repeatable)")
    p.add_argument("--matching", metavar="TEXT", help="forget every post containing TEXT (case ignored)")
    p.add_argument("--delete-old-versions", action="store_true", help="also delete the earlier versions that contain them")
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    p.set_defaults(func=cmd_forget)
