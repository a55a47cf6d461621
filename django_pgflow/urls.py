"""``path("pgflow/", include("django_pgflow.urls"))``: ``/pgflow/metrics`` and ``/pgflow/health``.

Both answer 404 until ``PGFLOW["METRICS"]`` / ``PGFLOW["HEALTH"]`` is True; see
``django_pgflow.monitoring.views`` for the access check.
"""

from __future__ import annotations

from django.urls import path

from .monitoring import views

app_name = "django_pgflow"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("health", views.health, name="health"),
]
