"""Old path: this module is ``django_pgflow.definitions.flows.compensation``."""

import sys

from .flows import compensation as _module
from .flows.compensation import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
