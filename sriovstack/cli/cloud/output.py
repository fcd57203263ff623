"""How list and show commands print, for every ``sriovstack`` command (client and host ones):
``-f table`` (rich tables: rows for lists, field/value for one resource), ``-f json`` and
``-f yaml`` (the same rows as records keyed by column name, for scripts and monitoring), and
``-c COLUMN`` (repeatable) to keep only some columns, as the openstack CLI does.

A command adds ``format_parser()`` to its parser's parents and passes ``View.of(args)`` to
``print_list``/``print_show``; with no view the output is the table.
"""

from __future__ import annotations

import argparse
import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sriovstack.errors import Invalid

__all__ = ["console", "print_list", "print_show", "cell", "Format", "View", "format_parser",
           "select_columns", "plain"]


def console() -> Console:
    return Console(highlight=False, soft_wrap=True, width=160)


class Format(enum.StrEnum):
    """The output formats of ``-f``."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


@dataclass(frozen=True, slots=True)
class View:
    """What ``-f`` and ``-c`` asked for: the format and the columns to keep (all when empty)."""

    format: Format = Format.TABLE
    columns: tuple[str, ...] = ()

    @classmethod
    def of(cls, args: argparse.Namespace) -> View:
        """The view the parsed ``args`` ask for (a table of every column without -f/-c)."""
        return cls(Format(getattr(args, "format", None) or Format.TABLE),
                   tuple(getattr(args, "column", None) or ()))

    @property
    def is_table(self) -> bool:
        return self.format is Format.TABLE


def format_parser() -> argparse.ArgumentParser:
    """The ``-f/--format`` and ``-c/--column`` options, as a parent parser."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-f", "--format", choices=[f.value for f in Format],
                        default=Format.TABLE.value,
                        help="output format: table (default), json or yaml")
    parser.add_argument("-c", "--column", action="append", metavar="COLUMN",
                        help="show only this column (repeatable; the names the table shows)")
    return parser


def cell(value: Any) -> str:
    """A value as one table cell: '-' for None/empty, lists joined, dicts as k=v."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    return str(value)


def plain(value: Any) -> Any:
    """``value`` as JSON/YAML data: None, bools, numbers and strings as they are, lists and
    dicts element by element, anything else (a MAC, a PCI address, an enum) as its text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def select_columns(columns: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """The indexes of the ``wanted`` columns (exact name, else ignoring case), all when none
    is wanted; Invalid naming -c and the columns there are for an unknown one."""
    if not wanted:
        return list(range(len(columns)))
    picked = []
    for name in wanted:
        matches = [i for i, c in enumerate(columns) if c == name] or \
                  [i for i, c in enumerate(columns) if c.lower() == name.lower()]
        if not matches:
            raise Invalid(f"-c {name!r}: no such column", field="-c/--column", value=name,
                          fix=f"use one of: {', '.join(columns)}")
        picked.append(matches[0])
    return picked


def _dump(data: Any, fmt: Format) -> None:
    if fmt is Format.JSON:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000).rstrip()
    print(text)


def print_list(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
               view: View = View()) -> None:
    """Rows under ``columns``: a titled table, or a JSON/YAML list of records."""
    keep = select_columns(columns, view.columns)
    if not view.is_table:
        _dump([{columns[i]: plain(row[i]) for i in keep} for row in rows], view.format)
        return
    table = Table(title=title)
    for i in keep:
        table.add_column(columns[i], overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell(row[i])) for i in keep))
    console().print(table)


def print_show(title: str, fields: Sequence[tuple[str, Any]], view: View = View()) -> None:
    """One resource's ``(field, value)`` pairs: a field/value table, or a JSON/YAML record."""
    keep = select_columns([name for name, _ in fields], view.columns)
    if not view.is_table:
        _dump({fields[i][0]: plain(fields[i][1]) for i in keep}, view.format)
        return
    table = Table(title=title, show_header=True)
    table.add_column("Field")
    table.add_column("Value", overflow="fold")
    for i in keep:
        table.add_row(Text(fields[i][0]), Text(cell(fields[i][1])))
    console().print(table)
