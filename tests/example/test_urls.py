"""The example's URLs, as the quick-start documents them: JWT login at /api/auth/login, Bearer
tokens on the API, the dashboard at /scheduler-admin."""

from tests.example.project import ExampleSite

CLIENT = """
import json
from django.test import Client

from django.test.utils import override_settings

# Fast hashing: these tests are about URLs and tokens, not about password storage.
override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()
client = Client(HTTP_HOST="127.0.0.1")
admin = user("admin", joined_days_ago=1, verified=True, staff=True, superuser=True)
admin.set_password("admin-pass-123")
admin.save()
member = user("member", joined_days_ago=1, verified=True)
member.set_password("member-pass-123")
member.save()

def login(path, username, password):
    response = client.post(path, {"username": username, "password": password},
                           content_type="application/json")
    return response.status_code, response.json()

def get(path, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get(path, headers=headers)
    return response.status_code, response.json()
"""


def test_jwt_login_returns_access_and_refresh_tokens_that_authenticate(site: ExampleSite) -> None:
    outcome = site.python(
        CLIENT
        + """
status, tokens = login("/api/auth/login", "admin", "admin-pass-123")
slash_status, slash_tokens = login("/api/auth/login/", "admin", "admin-pass-123")
refresh = client.post("/api/auth/refresh", {"refresh": tokens["refresh"]},
                      content_type="application/json")
member_status, member_tokens = login("/api/auth/login", "member", "member-pass-123")
emit({
    "login": [status, sorted(tokens)],
    "login_with_slash": [slash_status, sorted(slash_tokens)],
    "wrong_password": login("/api/auth/login", "admin", "wrong")[0],
    "me_with_bearer": get("/api/auth/me", tokens["access"]),
    "me_without_token": get("/api/auth/me")[0],
    "me_with_bad_token": get("/api/auth/me", "not-a-token")[0],
    "refresh": [refresh.status_code, sorted(refresh.json())],
    "me_after_refresh": get("/api/auth/me", refresh.json()["access"])[0],
    "status_as_admin": get("/api/admin/scheduler/status", tokens["access"])[0],
    "status_as_member": (
        get("/api/admin/scheduler/status", member_tokens["access"])[0]
    ),
    "status_anonymous": get("/api/admin/scheduler/status")[0],
    "statistics_as_admin": get("/api/admin/scheduler/statistics", tokens["access"]),
})
"""
    )
    assert outcome["login"] == [200, ["access", "refresh"]]
    assert outcome["login_with_slash"] == [200, ["access", "refresh"]]
    assert outcome["wrong_password"] == 401
    assert outcome["me_with_bearer"] == [
        200,
        {"username": "admin", "is_staff": True, "is_superuser": True},
    ]
    assert outcome["me_without_token"] == 401
    assert outcome["me_with_bad_token"] == 401
    assert outcome["refresh"] == [200, ["access"]]
    assert outcome["me_after_refresh"] == 200
    assert outcome["status_as_admin"] == 200
    assert outcome["status_as_member"] == 403
    assert outcome["status_anonymous"] == 401
    # The example names its statistics task in HOUSEKEEPING["STATISTICS_TASK"].
    status, statistics = outcome["statistics_as_admin"]
    assert (status, statistics["task"], statistics["warning"]) == (200, "stats", None)


def test_the_dashboard_is_at_scheduler_admin_for_staff(site: ExampleSite) -> None:
    outcome = site.python(
        CLIENT
        + """
def fetch(path):
    response = client.get(path)
    return [response.status_code, response.get("Location")]

home, without_slash, admin_login = fetch("/"), fetch("/scheduler-admin"), fetch("/admin/login/")
anonymous = client.get("/scheduler-admin/", follow=True)
client.force_login(admin)
staff = client.get("/scheduler-admin/", follow=True)
admin_pages = {
    path: client.get(path).status_code
    for path in [
        "/admin/chat/conversation/",
        "/admin/chat/conversation/?created_at__gte=2000-01-01",
        "/admin/chat/message/",
        "/admin/accounts/emailverification/",
    ]
}
emit({
    "admin_pages": admin_pages,
    "home": home,
    "without_slash": without_slash,
    "admin_login": admin_login,
    "anonymous": [anonymous.status_code, anonymous.request["PATH_INFO"]],
    "staff": [staff.status_code, staff.request["PATH_INFO"], "Housekeeping" in staff.text],
})
""",
    )
    assert outcome["home"] == [302, "/scheduler-admin/"]
    assert outcome["without_slash"] == [301, "/scheduler-admin/"]
    assert outcome["admin_login"] == [200, None]
    assert outcome["anonymous"] == [200, "/admin/login/"]  # staff only: log in first
    status, path, mentions_housekeeping = outcome["staff"]
    assert status == 200
    assert path != "/admin/login/"
    assert mentions_housekeeping
    assert set(outcome["admin_pages"].values()) == {200}
