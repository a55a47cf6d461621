"""Old path: this module is ``django_pgflow.definitions.flows.flow_step``."""

import sys

from .flows import flow_step as _module
from .flows.flow_step import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
