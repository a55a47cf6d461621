"""Old path: this module is ``django_pgflow.definitions.tasks.periodic``."""

import sys

from .tasks import periodic as _module
from .tasks.periodic import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
