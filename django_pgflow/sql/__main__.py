"""``python -m django_pgflow.sql``: which schema files a new migration must install.

It compares every file of ``django_pgflow/sql/schema/`` with the hash the
latest migration naming it pinned, and prints the ``InstallSQL`` operation
that installs the changed and new ones, to paste into a new migration
(``python manage.py makemigrations django_pgflow --empty -n what_changed``).
Exits 1 while anything is out of date, 0 when the migrations are current.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from . import InstallSQL, digest, schema_files


def pinned_by_migrations() -> dict[str, str]:
    """Each file's hash as the latest migration installing it pinned it."""
    from .. import migrations as package

    latest: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for operation in module.Migration.operations:
            if isinstance(operation, InstallSQL):
                latest.update(operation.files)
    return latest


def out_of_date() -> list[str]:
    latest = pinned_by_migrations()
    return [name for name in schema_files() if latest.get(name) != digest(name)]


def _setup_django() -> None:
    """Migrations import models: outside a project, a minimal configuration does."""
    import os

    import django
    from django.conf import settings

    if not settings.configured and "DJANGO_SETTINGS_MODULE" not in os.environ:
        settings.configure(INSTALLED_APPS=["pgtrigger", "django_pgflow"])
    django.setup()


def main() -> int:
    _setup_django()
    changed = out_of_date()
    if not changed:
        print("Every file of django_pgflow/sql/schema is installed by a migration as it is.")
        return 0
    print("Add to the operations of a new migration of django_pgflow:\n")
    print("    InstallSQL(")
    print("        {")
    for name in changed:
        print(f'            "{name}": "{digest(name)}",')
    print("        },")
    print("        reverse_sql=...,  # what undoes it: DROP for what is new")
    print("    ),")
    return 1


if __name__ == "__main__":
    sys.exit(main())
