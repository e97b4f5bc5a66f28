from django_housekeeping import ErasureRefused, erase
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@api_view(["GET"])
def me(request: Request) -> Response:
    """Who the request is authenticated as: try it with ``Authorization: Bearer <access token>``."""
    user = request.user
    return Response(
        {
            "username": user.get_username(),
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
        }
    )


@api_view(["POST"])
def delete_account(request: Request) -> Response:
    """ "Delete my account": the signed-in user's account and everything that cascades from it
    (conversations, messages, e-mail verification), through ``erase()`` — refused, with nothing
    deleted, while a legal hold keeps one of those rows; an erasure record is kept either way."""
    user = request.user
    try:
        record = erase(user, reason="The user deleted their account (self-service).")
    except ErasureRefused as refused:
        return Response(
            {
                "detail": "Your account cannot be deleted now: some of its data is under a "
                "legal hold. Please contact support.",
                "erasure": refused.record.pk,
            },
            status=409,
        )
    return Response({"deleted": record.deleted, "erasure": record.pk})
