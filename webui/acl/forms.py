"""Forms of the ACL admin pages: they check input field by field, then the services write.

Policy rules are validated with ``cluster.acl`` here so that each mistake shows on the rules
field with its line; the service validates again (it is the one place that must never store bad
rules), which costs one more parse of a few KB.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from cluster.acl import PolicyError, parse_policy
from cluster.jobspec.values import KindError, parse_duration_ns
from webui.models import ACLPolicy, ACLToken

__all__ = ["ACLPolicyForm", "TokenCreateForm"]


class ACLPolicyForm(forms.ModelForm):
    """Name, description and rules of a policy; rule errors name their line and field."""

    class Meta:
        model = ACLPolicy
        fields = ("name", "description", "rules")
        widgets = {
            "rules": forms.Textarea(
                attrs={"rows": 24, "cols": 100, "spellcheck": "false", "style": "font-family: monospace"}
            ),
        }

    def clean_rules(self) -> str:
        rules: str = self.cleaned_data["rules"]
        try:
            parse_policy(rules)
        except PolicyError as e:
            raise ValidationError([str(d) for d in e.diagnostics]) from None
        return rules


def _policy_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in ACLPolicy.objects.order_by("name").values_list("name", flat=True)]


class TokenCreateForm(forms.Form):
    """What ``token_create`` needs; the SecretID is made by the service, never typed in."""

    name = forms.CharField(max_length=256, required=False)
    type = forms.ChoiceField(choices=ACLToken.TYPE_CHOICES, initial=ACLToken.TYPE_CLIENT)
    policies = forms.MultipleChoiceField(
        choices=_policy_choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Client tokens need at least one policy; management tokens take none.",
    )
    global_ = forms.BooleanField(required=False, label="Global", help_text="Replicated to every region.")
    region = forms.CharField(max_length=128, initial="global")
    ttl = forms.CharField(
        required=False, label="Expiration TTL",
        help_text='A duration such as "8h" or "30m" (1m to 24h); empty: the token never expires.',
    )

    def clean_ttl(self) -> timedelta | None:
        text: str = self.cleaned_data["ttl"].strip()
        if not text:
            return None
        try:
            ns = parse_duration_ns(text)
        except KindError as e:
            raise ValidationError(str(e)) from None
        return timedelta(microseconds=ns // 1000)

    def token_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``token_create`` (call after ``is_valid()``)."""
        data = self.cleaned_data
        return {
            "name": data["name"], "type": data["type"], "policies": data["policies"],
            "global_": data["global_"], "ttl": data["ttl"], "region": data["region"],
        }
