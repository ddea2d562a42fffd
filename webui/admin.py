"""Django admin pages for ACL tokens and policies (staff users only).

The pages are thin: every write goes through ``webui.acl`` services, so the admin bumps the ACL
index, empties the authentication cache and validates exactly as the API does. Tokens are never
edited here: they are created (the SecretID is shown once, on the page that answers the form) and
revoked (an action on the list). Neither the secret nor its hash appears on any token page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from cluster.errors import CaravanError, NotFound
from webui.acl import policy_delete, policy_upsert, token_create, token_revoke
from webui.acl.admin_templates import token_add_template, token_created_template
from webui.acl.forms import ACLPolicyForm, TokenCreateForm
from webui.models import ACLPolicy, ACLToken

admin.site.site_header = "Caravan administration"
admin.site.site_title = "Caravan"

_TOKEN_FIELDS = (
    "accessor_id", "name", "type", "policy_names", "is_global", "region", "create_time",
    "expiration_time", "expiration_ttl", "create_index", "modify_index",
)


@admin.register(ACLToken)
class ACLTokenAdmin(admin.ModelAdmin):
    list_display = ("accessor_id", "name", "type", "policy_names", "is_global", "expiration_time", "create_time")
    list_filter = ("type", "is_global")
    search_fields = ("name",)
    fields = _TOKEN_FIELDS
    readonly_fields = _TOKEN_FIELDS
    actions = ["revoke_tokens"]

    @admin.display(description="policies")
    def policy_names(self, token: ACLToken) -> str:
        return ", ".join(token.policies)

    def has_change_permission(self, request: HttpRequest, obj: ACLToken | None = None) -> bool:
        return False  # tokens are immutable here: revoke and create a new one

    def has_delete_permission(self, request: HttpRequest, obj: ACLToken | None = None) -> bool:
        return False  # revoking goes through the service (see the action)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("webui.delete_acltoken"))

    @admin.action(description="Revoke selected ACL tokens", permissions=["revoke"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ACLToken]) -> None:
        revoked = 0
        for accessor in list(queryset.values_list("accessor_id", flat=True)):
            try:
                token_revoke(accessor)
                revoked += 1
            except NotFound:
                continue  # revoked meanwhile by someone else: the outcome wanted
        self.message_user(request, f"Revoked {revoked} ACL token{'s' if revoked != 1 else ''}.", messages.SUCCESS)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The form, then the page that shows the new SecretID (once; it is not stored)."""
        if not self.has_add_permission(request):
            raise DjangoPermissionDenied
        form = TokenCreateForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                created = token_create(**form.token_kwargs())
            except CaravanError as e:
                form.add_error(None, str(e))
            else:
                self.log_addition(request, created.token, [{"added": {}}])
                return self._created_page(request, created.token, created.secret_id)
        return self._add_page(request, form)

    def _add_page(self, request: HttpRequest, form: TokenCreateForm) -> TemplateResponse:
        fieldsets = [(None, {"fields": list(form.fields)})]
        adminform = helpers.AdminForm(form, fieldsets, {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request), "title": "Add ACL token", "opts": self.opts,
            "adminform": adminform, "errors": helpers.AdminErrorList(form, []),
        }
        return TemplateResponse(request, token_add_template(), context)

    def _created_page(self, request: HttpRequest, token: ACLToken, secret_id: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request), "title": "ACL token created", "opts": self.opts,
            "token": token, "secret_id": secret_id,
        }
        response = TemplateResponse(request, token_created_template(), context)
        response["Cache-Control"] = "no-store"  # the page holds a secret: no browser or proxy copy
        return response


@admin.register(ACLPolicy)
class ACLPolicyAdmin(admin.ModelAdmin):
    form = ACLPolicyForm
    list_display = ("name", "description", "modify_index", "modified")
    search_fields = ("name", "description")

    def get_readonly_fields(self, request: HttpRequest, obj: ACLPolicy | None = None) -> tuple[str, ...]:
        # Tokens name their policies: renaming would silently move grants, so a name is fixed.
        meta = ("create_index", "modify_index", "created", "modified")
        return ("name", *meta) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: ACLPolicy, form: ACLPolicyForm, change: bool) -> None:
        saved = policy_upsert(name=obj.name, rules=obj.rules, description=obj.description)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: ACLPolicy) -> None:
        policy_delete(obj.name)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ACLPolicy]) -> None:
        for name in list(queryset.values_list("name", flat=True)):
            try:
                policy_delete(name)
            except NotFound:
                continue
