"""Old path: this module is ``django_pgflow.definitions.flows.shape``."""

import sys

from .flows import shape as _module
from .flows.shape import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
