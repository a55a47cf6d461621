"""Old path: this module is ``django_pgflow.job_context``."""

import sys

from .. import job_context as _module
from ..job_context import *  # noqa: F403  (the names, for type checkers)

sys.modules[__name__] = _module
