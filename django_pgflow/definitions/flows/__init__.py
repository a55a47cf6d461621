"""Flows: the ``Flow`` DSL, its graph and shape, how its steps run, and its sync to the tables."""
