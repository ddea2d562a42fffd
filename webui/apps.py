from django.apps import AppConfig


class WebUIConfig(AppConfig):
    name = "webui"
    label = "webui"
    verbose_name = "Caravan"
    default_auto_field = "django.db.models.BigAutoField"
