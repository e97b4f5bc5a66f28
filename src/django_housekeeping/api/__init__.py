"""The housekeeping REST API (Django REST framework), installed with the ``api`` extra.

Mount it with ``path("api/admin/scheduler/", include("django_housekeeping.api.urls"))``. It
uses the project's DRF authentication classes and the housekeeping permissions (plus any
condition ``HOUSEKEEPING["API_PERMISSION_CLASSES"]`` adds), read at request time. See
``docs/api.md``.
"""
