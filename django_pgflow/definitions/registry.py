"""Old path: this module is ``django_pgflow.queue.registry``."""

import sys

from ..queue import registry as _module
from ..queue.registry import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
