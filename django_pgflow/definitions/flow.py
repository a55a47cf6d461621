"""Old path: this module is ``django_pgflow.definitions.flows.flow``."""

import sys

from .flows import flow as _module
from .flows.flow import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
