import pytest

from django_housekeeping import run_task


@pytest.mark.django_db
def test_run_records_a_succeeded_run():
    run = run_task("no_context".join(["tests.testapp.housekeeping.", ""]))
    assert run.status == "succeeded"
    assert run.result == {"ok": True}
