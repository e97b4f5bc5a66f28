from django.conf import settings
from django.db import models
from django.utils import timezone


class EmailVerification(models.Model):
    """Whether a user confirmed their e-mail address.

    A user without a row has never verified: the ``users`` housekeeping task deletes such users,
    like those whose row says ``is_verified=False``, a week after they joined.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_verification"
    )
    is_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "e-mail verification"

    def __str__(self) -> str:
        return f"{self.user}: {'verified' if self.is_verified else 'not verified'}"
