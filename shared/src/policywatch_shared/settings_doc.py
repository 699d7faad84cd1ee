"""The settings table of the README, generated from the settings classes.

``python -m policywatch_shared.settings_doc`` prints a Markdown table of every environment
variable policywatch reads: the shared, un-prefixed ones (``ServiceSettings``, read by every
service) and each service's own (``policywatch_<svc>.settings.<Svc>Settings``, env prefix
``<SVC>_``). The README holds it between ``<!-- settings:start -->`` and ``<!-- settings:end -->``;
``tests/unit/contracts/test_settings_doc.py`` fails when the two differ.

    python -m policywatch_shared.settings_doc                    # print the table
    python -m policywatch_shared.settings_doc --write README.md  # replace the block in README.md
    python -m policywatch_shared.settings_doc --check README.md  # exit 1 when the block is stale
"""

from __future__ import annotations

import argparse
import enum
import importlib
import json
import sys
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, AliasPath, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from policywatch_shared.settings import ServiceSettings

SERVICES = ("fetcher", "differ", "classifier", "notifier")
START = "<!-- settings:start -->"
END = "<!-- settings:end -->"
SHARED = "all"


@dataclass(frozen=True)
class Row:
    variable: str
    service: str
    type: str
    default: str
    description: str

    def cells(self) -> list[str]:
        return [f"`{self.variable}`", self.service, self.type, self.default, self.description]


def settings_classes(services: Iterable[str] = SERVICES) -> dict[str, type[ServiceSettings]]:
    """``<Svc>Settings`` of every service whose settings module exists (others are not written yet)."""
    out: dict[str, type[ServiceSettings]] = {}
    for service in services:
        module_name = f"policywatch_{service}.settings"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name in (f"policywatch_{service}", module_name):
                continue
            raise
        cls = getattr(module, f"{service.capitalize()}Settings", None)
        if cls is None:
            raise LookupError(f"{module_name} defines no {service.capitalize()}Settings")
        out[service] = cls
    return out


def env_names(cls: type[Any], name: str, field: FieldInfo) -> list[str]:
    """Environment variables that set ``field`` (an alias replaces the prefixed name)."""
    alias: Any = field.validation_alias if field.validation_alias is not None else field.alias
    if alias is None:
        prefix = str(cls.model_config.get("env_prefix", "") or "")
        return [(prefix + name).upper()]
    choices = list(alias.choices) if isinstance(alias, AliasChoices) else [alias]
    names: list[str] = []
    for choice in choices:
        if isinstance(choice, AliasPath):
            choice = choice.path[0]
        if isinstance(choice, str):
            names.append(choice.upper())
    return names


def type_name(annotation: Any) -> str:
    """Short, readable type of a field: ``int``, ``local \\| s3``, ``list[str]``, ``Path or none``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(str(a.value if isinstance(a, enum.Enum) else a) for a in args)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        text = " or ".join(type_name(a) for a in rest)
        return f"{text} or none" if len(rest) < len(args) else text
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        inner = ", ".join(type_name(a) for a in args)
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{inner}]" if inner else base
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return " \\| ".join(str(m.value) for m in annotation)
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(computed)"
    value = field.default
    if value is PydanticUndefined:
        return "**required**"
    if isinstance(value, SecretStr):
        return "(secret)" if value.get_secret_value() else '`""`'
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return f"`{json.dumps(items if not isinstance(items, tuple) else list(items), default=str)}`"
    text = str(value)
    return f"`{text}`" if text else '`""`'


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("\\\\|", "\\|")


def rows(classes: dict[str, type[ServiceSettings]] | None = None) -> list[Row]:
    """Shared variables first (as ``ServiceSettings`` defines them), then each service's own.

    A service appears for a shared variable only when it changes its default.
    """
    classes = settings_classes() if classes is None else classes
    shared: dict[str, str] = {}
    out: list[Row] = []
    for name, field in ServiceSettings.model_fields.items():
        for var in env_names(ServiceSettings, name, field):
            if var.startswith("POLICYWATCH_"):
                continue  # per-service fields: listed under each service with its prefix
            shared[var] = default_text(field)
            out.append(
                Row(var, SHARED, type_name(field.annotation), shared[var], _cell(field.description or ""))
            )
    for service, cls in classes.items():
        for name, field in cls.model_fields.items():
            default = default_text(field)
            for var in env_names(cls, name, field):
                if shared.get(var) == default:
                    continue
                out.append(
                    Row(var, service, type_name(field.annotation), default, _cell(field.description or ""))
                )
    return out


def render(classes: dict[str, type[ServiceSettings]] | None = None) -> str:
    """The Markdown table (ends with a newline)."""
    header = ["Variable", "Service", "Type", "Default", "Description"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows(classes)]
    return "\n".join(lines) + "\n"


def extract_block(text: str) -> str | None:
    """The text between the markers (stripped), or None when the markers are missing."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(START) : end].strip()


def replace_block(text: str, table: str) -> str:
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {START} ... {END} block")
    return text[: start + len(START)] + "\n\n" + table.strip() + "\n\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policywatch_shared.settings_doc",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE", help="replace the marked block in FILE")
    group.add_argument("--check", type=Path, metavar="FILE", help="exit 1 when FILE's block is stale")
    args = parser.parse_args(argv)
    table = render()
    if args.write:
        args.write.write_text(replace_block(args.write.read_text(encoding="utf-8"), table), encoding="utf-8")
        print(f"settings table written to {args.write}")
        return 0
    if args.check:
        block = extract_block(args.check.read_text(encoding="utf-8"))
        if block is None:
            print(f"{args.check}: no {START} ... {END} block", file=sys.stderr)
            return 1
        if block != table.strip():
            print(
                f"{args.check}: settings table is stale; run python -m {__spec__.name} --write {args.check}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.check}: settings table up to date")
        return 0
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
