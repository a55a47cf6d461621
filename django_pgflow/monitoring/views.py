"""``/metrics`` and ``/health``: off unless a setting turns them on, and behind an access check.

Access: ``PGFLOW["ENDPOINT_TOKEN"]`` (``Authorization: Bearer <token>``, or
``?token=<token>`` for probes that cannot set headers), or
``PGFLOW["ENDPOINT_ACCESS"]``, a callable ``access(request) -> bool``; either
suffices. With neither set, only logged-in staff users may read them.
"""

from __future__ import annotations

import hmac

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..conf import pgflow_settings
from .health import check_health


def _token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.GET.get("token")


def allowed(request: HttpRequest) -> bool:
    token = pgflow_settings.ENDPOINT_TOKEN
    given = _token(request)
    if token and given and hmac.compare_digest(token.encode(), given.encode()):
        return True
    access = pgflow_settings.ENDPOINT_ACCESS
    if access:
        return bool(import_string(access)(request))
    if token:
        return False
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def _guard(request: HttpRequest, setting: str) -> HttpResponse | None:
    if not getattr(pgflow_settings, setting):
        raise Http404(f"PGFLOW[{setting!r}] is off.")
    if not allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return None


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    from .metrics import PgflowCollector

    denied = _guard(request, "METRICS")
    if denied is not None:
        return denied
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PgflowCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)


@never_cache
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    denied = _guard(request, "HEALTH")
    if denied is not None:
        return denied
    result = check_health()
    status = "ok" if result.ok else "unavailable"
    return JsonResponse(
        {"status": status, "checks": result.checks}, status=200 if result.ok else 503
    )
