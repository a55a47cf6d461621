"""Old path: this module is ``django_pgflow.runs.registry``."""

import sys

from ..runs import registry as _module
from ..runs.registry import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
