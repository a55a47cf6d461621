"""The SQL core: one folder of ``.sql`` files per migration that applies it.

Each folder ``sql/NNNN_name/`` is applied, file by file in name order, by the
migration ``migrations/NNNN_name.py`` and by no other (a test enforces it). A
change to a function is a new folder and a new migration with
``CREATE OR REPLACE``, never an edit of an applied file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent


def sql_files(folder: str) -> list[Path]:
    """The ``.sql`` files of one migration folder, in the order they apply."""
    path = SQL_DIR / folder
    if not path.is_dir():
        raise FileNotFoundError(f"No SQL folder {folder!r} in {SQL_DIR}")
    return sorted(path.glob("*.sql"))


def read_sql(folder: str, skip: tuple[str, ...] = ()) -> str:
    """The folder's SQL as one script; ``skip`` names files to leave out."""
    return "\n\n".join(f.read_text() for f in sql_files(folder) if f.name not in skip)


class RunSQLFolder(migrations.RunSQL):
    """Apply every ``.sql`` file of ``sql/<folder>/`` as one migration step."""

    def __init__(self, folder: str, reverse_sql: str | None = None, **kwargs: Any) -> None:
        self.folder = folder
        super().__init__(
            sql=read_sql(folder),
            reverse_sql=reverse_sql if reverse_sql is not None else migrations.RunSQL.noop,
            **kwargs,
        )

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.folder], {})

    def describe(self) -> str:
        return f"Apply the SQL files of django_pgflow/sql/{self.folder}/"
