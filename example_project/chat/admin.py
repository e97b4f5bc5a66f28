from django.contrib import admin
from django_housekeeping.admin import LegalHoldAdminMixin

from chat.models import Conversation, Message


@admin.register(Conversation)
class ConversationAdmin(LegalHoldAdminMixin, admin.ModelAdmin):
    """With the actions "Place legal hold" and "Erase (erasure request)"."""

    list_display = ["title", "user", "created_at"]
    # A filter, not date_hierarchy: that needs MariaDB's time-zone tables outside UTC.
    list_filter = ["created_at"]
    search_fields = ["title", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(Message)
class MessageAdmin(LegalHoldAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "conversation", "user", "role", "created_at"]
    list_filter = ["role", "created_at"]
    list_select_related = ["conversation", "user"]
    raw_id_fields = ["conversation", "user"]
