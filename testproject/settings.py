"""Settings of the example project that the demo and the tests run."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from testproject.database import database_config

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-pgflow-testproject-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "pgtrigger",
    "django_pgflow",
    "testproject.example",
]
try:  # Django 5.2: the django-tasks backport of django.tasks, when installed
    import django.tasks  # noqa: F401
except ImportError:
    if importlib.util.find_spec("django_tasks"):
        INSTALLED_APPS.append("django_tasks")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "testproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

PGFLOW = {
    "QUEUES": {
        "default": {},
        "embeddings": {},
        "emails": {},
        "slow": {},
        # Limits enforced by the claim across every worker (tests/test_resources.py).
        "limited": {"concurrency": 2},
        "rated": {"rate_limit": "10/s"},
    },
    # One GPU, shared by every worker on every host.
    "RESOURCES": {"gpu": 1},
    "HEARTBEAT_INTERVAL": 1.0,
    "WORKER_DEAD_AFTER": 10.0,
    "POLL_INTERVAL": 1.0,
}
# Django's Tasks framework (django.tasks on Django 6, the django-tasks backport
# on 5.2), served by django-pgflow. QUEUES [] accepts any queue name; PGFLOW's
# QUEUES above still decides which ones exist.
TASKS = {"default": {"BACKEND": "django_pgflow.backends.PgflowBackend", "QUEUES": []}}
# The "old system" of tests/test_import.py: django-tasks' database backend, whose
# waiting jobs pgflow_import brings over.
if importlib.util.find_spec("django_tasks_db"):
    INSTALLED_APPS.append("django_tasks_db")
    TASKS["legacy"] = {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}

# Tests start worker subprocesses with tighter timings (a JSON object).
PGFLOW.update(json.loads(os.environ.get("PGFLOW_OVERRIDES", "{}")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_pgflow": {"handlers": ["console"], "level": os.environ.get("PGFLOW_LOG", "WARNING")}
    },
}
