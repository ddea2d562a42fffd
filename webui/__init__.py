"""Caravan's web application: dashboard, Nomad-compatible /v1 API, live views, ACL admin.

Importing the package loads the Celery app so that ``@shared_task`` binds to it.
"""

from webui.celery import app as celery_app

__all__ = ["celery_app"]
