"""Old path: this module is ``django_pgflow.definitions.flows.sync``."""

import sys

from .flows import sync as _module
from .flows.sync import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
