"""The example chat site's legal holds and erasure requests: a held conversation survives the
conversations task, and "delete my account" goes through ``erase()``."""

from tests.example.project import ExampleSite

CLIENT = """
from django.test import Client
from django.test.utils import override_settings
from django_housekeeping import holds

override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()
client = Client(HTTP_HOST="127.0.0.1")

def token(account):
    account.set_password("pass-123-word")
    account.save()
    response = client.post("/api/auth/login", {"username": account.username,
                           "password": "pass-123-word"}, content_type="application/json")
    return response.json()["access"]

def delete_account(access):
    response = client.post("/api/auth/delete-account",
                           headers={"Authorization": f"Bearer {access}"})
    return response.status_code, response.json()
"""


def test_a_held_conversation_survives_the_conversations_task(site: ExampleSite) -> None:
    outcome = site.python(
        """
from django_housekeeping import holds
owner = user("owner", joined_days_ago=200, verified=True)
held = conversation(owner, "held", days_ago=100, messages=3)
conversation(owner, "old", days_ago=100, messages=2)
holds.place(held, reason="Support case")
run = run_task("conversations")
emit({
    "status": run.status,
    "held": run.result["held"],
    "titles": sorted(Conversation.objects.values_list("title", flat=True)),
    "messages": Message.objects.count(),
})
"""
    )
    assert outcome["status"] == "succeeded"
    assert outcome["held"] == {"chat.Conversation": 1, "chat.Message": 3}
    assert outcome["titles"] == ["held"]
    assert outcome["messages"] == 3


def test_delete_my_account_goes_through_erase(site: ExampleSite) -> None:
    outcome = site.python(
        CLIENT
        + """
leaving = user("leaving", joined_days_ago=10, verified=True)
conversation(leaving, "mine", days_ago=1, messages=2)
disputed = user("disputed", joined_days_ago=10, verified=True)
held = conversation(disputed, "disputed", days_ago=1, messages=1)
holds.place(held, reason="Dispute")

status, body = delete_account(token(leaving))
held_status, held_body = delete_account(token(disputed))
records = {r.object_pk: (r.status, r.model, r.deleted) for r in ErasureRecord.objects.all()}
emit({
    "deleted": [status, body["deleted"]],
    "leaving_exists": User.objects.filter(username="leaving").exists(),
    "refused": [held_status, "legal hold" in held_body["detail"]],
    "disputed_exists": User.objects.filter(username="disputed").exists(),
    "held_conversation_exists": Conversation.objects.filter(title="disputed").exists(),
    "records": sorted(records.values()),
    "anonymous": client.post("/api/auth/delete-account").status_code,
})
"""
    )
    assert outcome["deleted"] == [
        200,
        {
            "auth.User": 1,
            "accounts.EmailVerification": 1,
            "chat.Conversation": 1,
            "chat.Message": 2,
        },
    ]
    assert outcome["leaving_exists"] is False
    assert outcome["refused"] == [409, True]
    assert outcome["disputed_exists"] is True
    assert outcome["held_conversation_exists"] is True
    assert outcome["records"] == [
        [
            "erased",
            "auth.User",
            {
                "accounts.EmailVerification": 1,
                "auth.User": 1,
                "chat.Conversation": 1,
                "chat.Message": 2,
            },
        ],
        ["refused", "auth.User", {}],
    ]
    assert outcome["anonymous"] == 401
