"""Who may see and who may act, for every admin page of django-pgflow.

Pages are read-only: nothing is added, edited or deleted through a form.
Django's *view* permission of a model shows its pages; its *change*
permission, used for nothing else, allows the page's actions (retry, cancel,
run now, cancel run, resume run), which go through the SQL functions. An
action posted without it is answered 403, whether it came from the list's
action menu or from a button of a detail page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect

from .readonly import render_read_only


class OperatorAdmin(admin.ModelAdmin):
    """A read-only model admin whose actions need the model's change permission."""

    change_list_template = "admin/django_pgflow/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # no edit form: state changes go through the SQL functions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # finished rows leave through pgflow_prune

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """May act: Django's "change" permission of the model, used for nothing else."""
        opts = self.model._meta.concrete_model._meta if self.model._meta.proxy else self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        action = request.POST.get("action") if request.method == "POST" else None
        if action and action not in self.get_actions(request):
            raise PermissionDenied(f"You may not run the action {action!r}.")
        guarded = render_read_only(super().changelist_view)
        return guarded(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        def view(request: HttpRequest) -> HttpResponse:
            context = {**(extra_context or {}), **self.detail_context(request, object_id)}
            return super(OperatorAdmin, self).change_view(request, object_id, form_url, context)

        return render_read_only(view)(request)

    def detail_context(self, request: HttpRequest, object_id: str) -> dict[str, Any]:
        """More context for the detail page, read inside its read-only transaction."""
        return {}

    def url_name(self, suffix: str) -> str:
        """The URL name of one of this admin's pages: ``django_pgflow_job_retry``."""
        return f"{self.opts.app_label}_{self.opts.model_name}_{suffix}"

    def operate(
        self,
        request: HttpRequest,
        change: Callable[[], bool],
        done: str,
        not_done: str,
        back: str,
    ) -> HttpResponse:
        """Apply one state change posted from a detail page's button, then go ``back``."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_manage_permission(request):
            raise PermissionDenied("You may look at this page but not act on it.")
        try:
            with transaction.atomic():
                changed = change()
        except DatabaseError as error:
            self.message_user(request, f"Refused: {str(error).splitlines()[0]}", messages.ERROR)
        else:
            level = messages.SUCCESS if changed else messages.WARNING
            self.message_user(request, done if changed else not_done, level)
        return HttpResponseRedirect(back)
