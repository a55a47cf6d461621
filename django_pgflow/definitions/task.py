"""Old path: this module is ``django_pgflow.definitions.tasks.task``."""

import sys

from .tasks import task as _module
from .tasks.task import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
