"""What the upgrade test reads through the current code, in a process of its own on the upgraded
database: ``python -m tests.upgradeapp.probe`` prints the status API's answer (as a superuser),
the metrics' exposition and the health, as one JSON object."""

import json

import django


def main() -> None:
    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client

    from django_housekeeping.monitoring import metrics

    admin, _ = User.objects.get_or_create(
        username="upgrade-probe", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    status = client.get("/api/admin/scheduler/status/", HTTP_HOST="127.0.0.1")
    body, _content_type = metrics.exposition()
    print(
        json.dumps(
            {
                "status_code": status.status_code,
                "status": status.json(),
                "metrics": body.decode(),
            }
        )
    )


if __name__ == "__main__":
    main()
