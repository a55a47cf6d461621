from __future__ import annotations

from django.apps import AppConfig


class PgflowConfig(AppConfig):
    name = "django_pgflow"
    verbose_name = "pgflow"
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self) -> None:
        from django.apps import apps

        if not apps.is_installed("pgtrigger"):
            # Our models declare triggers in Meta, an option pgtrigger's app module
            # registers: without it their import fails with a bare TypeError. Register
            # it so that the system check pgflow.E013 can name the fix instead.
            import pgtrigger.apps  # noqa: F401
        super().import_models()

    def ready(self) -> None:
        from django.db.models.signals import post_migrate
        from django.utils.module_loading import autodiscover_modules

        from . import checks  # noqa: F401  (registers the system checks)
        from .definitions.flows.sync import sync_after_migrate
        from .limit_sync import sync_after_migrate as sync_limits_after_migrate

        # Tasks and flows register themselves on import, like admin.py modules.
        autodiscover_modules("tasks")
        autodiscover_modules("flows")
        # migrate leaves the definition tables matching the Flow classes.
        post_migrate.connect(
            sync_after_migrate, sender=self, dispatch_uid="django_pgflow.sync_flows"
        )
        # ... and the limits stored in the database matching PGFLOW.
        post_migrate.connect(
            sync_limits_after_migrate, sender=self, dispatch_uid="django_pgflow.sync_limits"
        )
