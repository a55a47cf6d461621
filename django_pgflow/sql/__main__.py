"""``python -m django_pgflow.sql``: which schema files a new migration must install.

It compares every file of ``django_pgflow/sql/schema/`` with the hash the
latest migration naming it pinned, and prints the ``InstallSQL`` operation
that installs the changed and new ones, to paste into a new migration
(``python manage.py makemigrations django_pgflow --empty -n what_changed``).
Exits 1 while anything is out of date, 0 when the migrations are current.

``python -m django_pgflow.sql reference`` rewrites the generated regions of
``docs/reference/sql.md`` from the schema (see ``reference.py``);
``reference --check`` only says whether the page is current (exit 1 if not).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from . import SCHEMA_DIR, InstallSQL, archived, digest, schema_files


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


def archive_from_git(name: str, sha256: str) -> bool:
    """Keep the text of ``name`` an earlier migration pinned, found in git's HEAD."""
    import hashlib
    import subprocess

    path = archived(name, sha256)
    if path.is_file():
        return True
    source = (SCHEMA_DIR / name).relative_to(SCHEMA_DIR.parents[2])
    shown = subprocess.run(
        ["git", "show", f"HEAD:{source.as_posix()}"],
        cwd=SCHEMA_DIR.parents[2],
        capture_output=True,
        check=False,
    )
    if shown.returncode != 0 or hashlib.sha256(shown.stdout).hexdigest() != sha256:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(shown.stdout)
    return True


def _setup_django() -> None:
    """Migrations import models: outside a project, a minimal configuration does."""
    import os

    import django
    from django.conf import settings

    if not settings.configured and "DJANGO_SETTINGS_MODULE" not in os.environ:
        settings.configure(INSTALLED_APPS=["pgtrigger", "django_pgflow"])
    django.setup()


def write_reference(check: bool) -> int:
    """Rewrite the page's generated regions (or, with ``check``, compare)."""
    from . import reference

    if not reference.PAGE.is_file():
        print(f"No {reference.PAGE}: run this from a checkout of django-pgflow.")
        return 1
    page = reference.PAGE.read_text()
    missing = reference.missing(page)
    if missing:
        print(f"{reference.PAGE} has no region for: {', '.join(missing)}")
        print("Add <!-- sql-reference: NAME --> <!-- /sql-reference --> where each belongs.")
        return 1
    current = reference.update(page)
    if current == page:
        print(f"{reference.PAGE} is current.")
        return 0
    if check:
        print(f"{reference.PAGE} is out of date: run python -m django_pgflow.sql reference")
        return 1
    reference.PAGE.write_text(current)
    print(f"Rewrote the generated regions of {reference.PAGE}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["reference"] and set(args[1:]) <= {"--check"}:
        return write_reference(check="--check" in args)
    if args:
        print("usage: python -m django_pgflow.sql [reference [--check]]", file=sys.stderr)
        return 2
    _setup_django()
    changed = out_of_date()
    if not changed:
        print("Every file of django_pgflow/sql/schema is installed by a migration as it is.")
        return 0
    latest = pinned_by_migrations()
    before = {name: latest[name] for name in changed if name in latest}
    for name, sha256 in before.items():
        if archive_from_git(name, sha256):
            print(f"kept the pinned text of {name} in {archived(name, sha256)}")
        else:
            print(f"could not find the pinned text of {name} in git's HEAD: archive it by hand")
    print("\nAdd to the operations of a new migration of django_pgflow:\n")
    if before:
        print("    # Undone last: the texts the previous migrations installed.")
        print("    migrations.RunSQL(")
        print("        migrations.RunSQL.noop,")
        print("        reverse_sql=install_sql(")
        print("            {")
        for name, sha256 in before.items():
            print(f'                "{name}": "{sha256}",')
        print("            }")
        print("        ),")
        print("    ),")
    print("    InstallSQL(")
    print("        {")
    for name in changed:
        print(f'            "{name}": "{digest(name)}",')
    print("        },")
    print("        reverse_sql=...,  # DROP what is new")
    print("    ),")
    return 1


if __name__ == "__main__":
    sys.exit(main())
