"""Definitions: the ``@task`` registry and the ``Flow`` DSL, and how their jobs run."""
