"""Definitions: the ``@task`` registry (and, later, the ``Flow`` DSL)."""
