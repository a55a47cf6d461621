"""Old path: this module is ``django_pgflow.definitions.flows.step_runner``."""

import sys

from .flows import step_runner as _module
from .flows.step_runner import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
