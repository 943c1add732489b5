"""The option sets of bench/quality.py: the seed recipe, today's defaults (a snapshot, so that it stays the
baseline when the defaults change), the new defaults (TrainConfig() at run time) and `--config NAME:k=v,...`."""

from __future__ import annotations

import dataclasses
import typing

from studio.errors import ConfigError, InputError
from studio.training.config import TrainConfig

SNAPSHOT_NAME = "defaults@2026-12-01"
# TrainConfig() as on main on 2026-12-01 (base_model and evaluate are the bench's own: --base, and evaluated here)
SNAPSHOT = {
    "method": "auto", "max_steps": 60, "epochs": 0.0, "learning_rate": 5e-4, "scheduler": "linear", "warmup_ratio": 0.05,
    "weight_decay": 0.0, "lora_plus_ratio": 0.0, "rank": 8, "alpha": 0, "dropout": 0.0, "target_modules": "all-linear",
    "batch_size": 4, "grad_accum": 1, "max_batch_tokens": 512, "max_length": 256, "eval_steps": 50, "eval_posts": 64,
    "patience": 3, "gradient_checkpointing": False, "seed": 0, "probe_steps": 0, "probe_stop_drop": 0.0,
}
# the seed study's recipe, trained through train_persona (the rest as the snapshot): LoRA r16 on q/v, lr 2e-4, 60 steps
SEED = {"rank": 16, "alpha": 32, "dropout": 0.05, "target_modules": "q_proj,v_proj", "learning_rate": 2e-4, "max_steps": 60}
# fields added after the snapshot, and the value that leaves each off in the two old baselines; a field missing
# here is set off by its type (False, 0) when TrainConfig accepts that, else kept at its default (and said so)
OFF = {"replay_share": 0.0, "kl_weight": 0.0, "rslora": False, "lora_layers": 0, "replay_chat": True, "processes": 1,
       "replay_every": 1}
OWN = ("base_model", "evaluate")  # set by the bench for every option set


@dataclasses.dataclass
class OptionSet:
    name: str
    config: TrainConfig
    note: str = ""  # how it was built (fields set off, overrides)


def _hints() -> dict:
    return typing.get_type_hints(TrainConfig)


def parse_value(key: str, text: str):
    """`text` as field `key`'s type (bool: true/false/1/0/yes/no/on/off)."""
    kind = _hints()[key]
    text = text.strip()
    if kind is bool:
        folded = text.lower()
        if folded not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise InputError(f"{key} is true or false, got {text!r}.")
        return folded in ("1", "true", "yes", "on")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise InputError(f"{key} must be {'an integer' if kind is int else 'a number'}, got {text!r}.") from None
    return text


def parse_config(spec: str) -> tuple[str, dict]:
    """`NAME:key=value,key=value` -> (NAME, {key: typed value}); unknown keys are a clear error."""
    name, sep, rest = spec.partition(":")
    if not sep or not name.strip():
        raise InputError(f"--config {spec!r}: write NAME:key=value,key=value (e.g. r16:rank=16,alpha=32).")
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    values = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq:
            raise InputError(f"--config {name}: {pair!r} is not key=value.")
        if key not in fields:
            raise InputError(f"--config {name}: {key!r} is not a TrainConfig field; the fields are: {', '.join(fields)}.")
        values[key] = parse_value(key, value)
    return name.strip(), values


def _build(values: dict, own: dict) -> TrainConfig:
    try:
        return TrainConfig(**values, **own)
    except ConfigError as exc:
        raise InputError(f"{exc}") from exc


def _old(values: dict, own: dict) -> tuple[TrainConfig, str]:
    """The snapshot (plus `values`) with every field added since set off: OFF, else False/0 where valid."""
    values = {**SNAPSHOT, **values}
    notes = []
    for f in dataclasses.fields(TrainConfig):
        if f.name in values or f.name in OWN:
            continue
        if f.name in OFF:
            values[f.name] = OFF[f.name]
            notes.append(f"{f.name}={OFF[f.name]}")
            continue
        kind = _hints()[f.name]
        off = False if kind is bool else kind(0) if kind in (int, float) else None
        try:
            if off is None:
                raise ConfigError("no off value")
            _build({**values, f.name: off}, own)
            values[f.name] = off
            notes.append(f"{f.name}={off}")
        except ConfigError:
            notes.append(f"{f.name} kept at its default (no off value known)")
    return _build(values, own), ("new fields: " + ", ".join(notes)) if notes else ""


def option_sets(base: str, extra: list[str], steps: int = 0) -> list[OptionSet]:
    """The seed recipe, the snapshot of today's defaults, the new defaults (when they differ), then `extra`.
    `steps` > 0 replaces every set's max_steps (--quick)."""
    own = {"base_model": base, "evaluate": False}
    length = {"max_steps": steps, "epochs": 0.0} if steps else {}
    seed, seed_note = _old({**SEED, **length}, own)
    old, old_note = _old(length, own)
    sets = [OptionSet("seed recipe", seed, seed_note), OptionSet(SNAPSHOT_NAME, old, old_note)]
    new = _build(length, own)
    if new.to_dict() != old.to_dict():
        sets.append(OptionSet("new defaults", new, "TrainConfig() now"))
    names = {s.name for s in sets}
    for spec in extra:
        name, values = parse_config(spec)
        if name in names:
            raise InputError(f"--config {name}: that name is taken; choose another.")
        names.add(name)
        sets.append(OptionSet(name, _build({**length, **values}, own), "TrainConfig() + " + ", ".join(f"{k}={v}" for k, v in values.items())))
    return sets


def differs(config: TrainConfig, reference: TrainConfig) -> str:
    """The fields where `config` differs from `reference`, as k=v."""
    ref = reference.to_dict()
    return ", ".join(f"{k}={v}" for k, v in config.to_dict().items() if k not in OWN and ref.get(k) != v)
