"""Old path: this module is ``django_pgflow.definitions.tasks.batch``."""

import sys

from .tasks import batch as _module
from .tasks.batch import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
