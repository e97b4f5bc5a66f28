from django.contrib import admin

from accounts.models import EmailVerification


@admin.register(EmailVerification)
class EmailVerificationAdmin(admin.ModelAdmin):
    list_display = ["user", "is_verified", "created_at", "verified_at"]
    list_filter = ["is_verified"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
