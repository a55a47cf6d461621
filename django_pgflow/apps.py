from __future__ import annotations

from django.apps import AppConfig


class PgflowConfig(AppConfig):
    name = "django_pgflow"
    verbose_name = "pgflow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from . import checks  # noqa: F401  (registers the system checks)

        # Tasks and flows register themselves on import, like admin.py modules.
        autodiscover_modules("tasks")
        autodiscover_modules("flows")
