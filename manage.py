#!/usr/bin/env python
"""Run administrative tasks of the example project (``testproject``)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    from django.core.management import execute_from_command_line

    from django_pgflow.setup_errors import explain_setup_errors

    with explain_setup_errors():
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
