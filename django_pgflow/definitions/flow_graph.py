"""Old path: this module is ``django_pgflow.definitions.flows.flow_graph``."""

import sys

from .flows import flow_graph as _module
from .flows.flow_graph import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
