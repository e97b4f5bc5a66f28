"""The fixture models' admin: threads get the legal hold and erasure actions of the mixin."""

from typing import TYPE_CHECKING

from django.contrib import admin

from django_housekeeping.admin import LegalHoldAdminMixin
from tests.testapp.models import Thread

if TYPE_CHECKING:
    ThreadAdminBase = admin.ModelAdmin[Thread]
else:
    ThreadAdminBase = admin.ModelAdmin


@admin.register(Thread)
class ThreadAdmin(LegalHoldAdminMixin, ThreadAdminBase):
    list_display = ["title", "created_at"]
