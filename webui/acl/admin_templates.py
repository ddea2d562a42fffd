"""Templates of the token pages that the admin does not have: create a token, and show its
SecretID once. Kept beside the code that renders them; they extend the admin's own base page.
"""

from __future__ import annotations

from functools import cache

from django.template import engines
from django.template.backends.django import Template

__all__ = ["token_add_template", "token_created_template"]

_BREADCRUMBS = """{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">Home</a>
&rsaquo; <a href="{% url 'admin:app_list' app_label=opts.app_label %}">{{ opts.app_config.verbose_name }}</a>
&rsaquo; <a href="{% url 'admin:webui_acltoken_changelist' %}">{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; {{ title }}
</div>{% endblock %}"""

_ADD = """{% extends "admin/base_site.html" %}
{% load static %}
{% block extrastyle %}{{ block.super }}<link rel="stylesheet" href="{% static "admin/css/forms.css" %}">{% endblock %}
{% block bodyclass %}{{ block.super }} app-webui model-acltoken change-form{% endblock %}
""" + _BREADCRUMBS + """
{% block content %}<div id="content-main">
<form method="post" id="acltoken_form" novalidate>{% csrf_token %}
<div>
{% if errors %}<p class="errornote">Please correct the errors below.</p>{{ adminform.form.non_field_errors }}{% endif %}
{% for fieldset in adminform %}
  {% include "admin/includes/fieldset.html" with heading_level=2 prefix="fieldset" id_prefix=0 id_suffix=forloop.counter0 %}
{% endfor %}
<div class="submit-row"><input type="submit" value="Create token" class="default" name="_save"></div>
</div>
</form>
</div>{% endblock %}
"""

_CREATED = """{% extends "admin/base_site.html" %}
{% block bodyclass %}{{ block.super }} app-webui model-acltoken{% endblock %}
""" + _BREADCRUMBS + """
{% block content %}<div id="content-main">
<p class="errornote">This is the only time the Secret ID is shown. Copy it now: Caravan keeps
only a hash of it and cannot show it again.</p>
<table>
<tr><th scope="row">Accessor ID</th><td><code id="accessor-id">{{ token.accessor_id }}</code></td></tr>
<tr><th scope="row">Secret ID</th><td><code id="secret-id">{{ secret_id }}</code></td></tr>
<tr><th scope="row">Name</th><td>{{ token.name }}</td></tr>
<tr><th scope="row">Type</th><td>{{ token.type }}</td></tr>
<tr><th scope="row">Policies</th><td>{{ token.policies|join:", " }}</td></tr>
<tr><th scope="row">Expires</th><td>{{ token.expiration_time|default:"never" }}</td></tr>
</table>
<p><a href="{% url 'admin:webui_acltoken_changelist' %}">Back to the tokens</a></p>
</div>{% endblock %}
"""


@cache
def token_add_template() -> Template:
    return engines["django"].from_string(_ADD)


@cache
def token_created_template() -> Template:
    return engines["django"].from_string(_CREATED)
