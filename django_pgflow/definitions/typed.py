"""Old path: this module is ``django_pgflow.typed``."""

import sys

from .. import typed as _module
from ..typed import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
