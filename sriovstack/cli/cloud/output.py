"""How client commands print: rich tables for lists, field/value tables for one resource."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["console", "print_list", "print_show", "cell"]


def console() -> Console:
    return Console(highlight=False, soft_wrap=True, width=160)


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


def print_list(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell(v)) for v in row))
    console().print(table)


def print_show(title: str, fields: Sequence[tuple[str, Any]]) -> None:
    table = Table(title=title, show_header=True)
    table.add_column("Field")
    table.add_column("Value", overflow="fold")
    for name, value in fields:
        table.add_row(Text(name), Text(cell(value)))
    console().print(table)
