"""The scheduler lease: take-over, renewal, self-fencing, fencing tokens and release."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from django_housekeeping.models import SchedulerLease
from django_housekeeping.scheduling import lease as lease_module
from django_housekeeping.scheduling.lease import LEASE_NAME, Lease

pytestmark = pytest.mark.django_db

TTL = 30.0


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Replace the lease module's monotonic clock (only that module's view of ``time``)."""
    fake = FakeClock()
    monkeypatch.setattr(lease_module, "time", SimpleNamespace(monotonic=fake))
    return fake


@pytest.fixture(autouse=True)
def free_row() -> None:
    """The lease row as a released lease leaves it (see the first-acquire tests for none)."""
    SchedulerLease.objects.create(name=LEASE_NAME, expires_at=timezone.now() - timedelta(seconds=1))


def row() -> SchedulerLease:
    return SchedulerLease.objects.get(name=LEASE_NAME)


def expire_in_db() -> None:
    """Make the stored lease look expired, as if its holder had stopped renewing it."""
    SchedulerLease.objects.filter(name=LEASE_NAME).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


# -- taking the lease ---------------------------------------------------------------------------


def test_acquiring_a_free_lease(clock: FakeClock) -> None:
    lease = Lease(ttl=TTL)
    assert not lease.held()
    before = timezone.now()

    assert lease.acquire_or_renew() is True

    after = timezone.now()
    stored = row()
    assert SchedulerLease.objects.count() == 1
    assert stored.owner == lease.owner
    assert stored.token == 1 == lease.token
    assert stored.host == socket.gethostname()[:255] == lease.host
    assert stored.pid == os.getpid() == lease.pid
    assert before <= stored.acquired_at <= after
    assert stored.heartbeat_at == stored.acquired_at
    assert stored.expires_at == stored.acquired_at + timedelta(seconds=TTL)
    assert lease.held()
    assert lease.owner.startswith(f"{lease.host}:{lease.pid}:")
    assert str(stored) == f"{LEASE_NAME}: {lease.owner}"


def test_the_first_acquire_creates_the_row(clock: FakeClock) -> None:
    SchedulerLease.objects.all().delete()
    lease = Lease(ttl=TTL)

    assert lease.acquire_or_renew()  # at once: the new row is created expired
    stored = row()
    assert SchedulerLease.objects.count() == 1
    assert stored.owner == lease.owner
    assert stored.token == 1 == lease.token


def test_the_first_acquire_on_an_empty_table_takes_the_lease(clock: FakeClock) -> None:
    SchedulerLease.objects.all().delete()
    lease = Lease(ttl=TTL)

    assert lease.acquire_or_renew() is True
    assert row().owner == lease.owner


def test_owners_are_unique_per_lease_object() -> None:
    assert Lease(ttl=TTL).owner != Lease(ttl=TTL).owner


def test_another_owner_cannot_take_an_unexpired_lease(clock: FakeClock) -> None:
    first, second = Lease(ttl=TTL), Lease(ttl=TTL)
    assert first.acquire_or_renew()
    stored_before = row()

    assert second.acquire_or_renew() is False

    assert second.token is None
    assert not second.held()
    stored = row()
    assert stored.owner == first.owner
    assert stored.token == 1
    assert stored.expires_at == stored_before.expires_at  # a standby writes nothing
    assert stored.heartbeat_at == stored_before.heartbeat_at


def test_another_owner_takes_the_lease_once_it_expired(clock: FakeClock) -> None:
    first, second = Lease(ttl=TTL), Lease(ttl=TTL)
    assert first.acquire_or_renew()
    expire_in_db()
    before = timezone.now()

    assert second.acquire_or_renew() is True

    stored = row()
    assert stored.owner == second.owner
    assert stored.token == 2 == second.token
    assert stored.acquired_at >= before
    assert stored.expires_at > timezone.now()
    assert second.held()


def test_the_fencing_token_increments_on_each_change_of_owner(clock: FakeClock) -> None:
    first, second = Lease(ttl=TTL), Lease(ttl=TTL)
    tokens = []
    assert first.acquire_or_renew()
    tokens.append(row().token)

    # Renewals by the same owner keep the token.
    clock.advance(first.renew_every + 1)
    assert first.acquire_or_renew()
    assert row().token == tokens[-1] == first.token

    expire_in_db()
    assert second.acquire_or_renew()
    tokens.append(row().token)

    second.release()
    clock.advance(first.renew_every + 1)
    assert first.acquire_or_renew() is False  # its token is stale: it lost the lease
    assert first.acquire_or_renew() is True  # and takes it anew, with a new token
    tokens.append(row().token)

    assert tokens == [1, 2, 3]
    assert first.token == 3


# -- renewal ------------------------------------------------------------------------------------


def test_renew_every_is_a_third_of_the_ttl() -> None:
    assert Lease(ttl=30).renew_every == 10
    assert Lease(ttl=1.5).renew_every == pytest.approx(0.5)


def test_renewal_writes_only_when_due(clock: FakeClock, django_assert_num_queries: object) -> None:
    lease = Lease(ttl=TTL)
    assert lease.acquire_or_renew()
    acquired = row()

    clock.advance(lease.renew_every - 0.5)
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert lease.acquire_or_renew() is True
    assert row().heartbeat_at == acquired.heartbeat_at

    clock.advance(1.0)  # now past renew_every since the last renewal
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert lease.acquire_or_renew() is True
    renewed = row()
    assert renewed.heartbeat_at > acquired.heartbeat_at
    assert renewed.expires_at == renewed.heartbeat_at + timedelta(seconds=TTL)
    assert renewed.token == acquired.token
    assert renewed.acquired_at == acquired.acquired_at

    # The renewal restarted the local clock: the next one is a full renew_every away.
    clock.advance(lease.renew_every - 0.5)
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert lease.acquire_or_renew() is True


def test_held_turns_false_once_the_ttl_passes_without_renewal(clock: FakeClock) -> None:
    lease = Lease(ttl=TTL)
    assert lease.acquire_or_renew()

    clock.advance(TTL - 0.01)
    assert lease.held()  # judged on the local clock alone
    clock.advance(0.02)
    assert not lease.held()  # self-fenced, though the row still names it

    assert row().owner == lease.owner
    # Nobody took it meanwhile: the same owner renews with its token and leads again.
    assert lease.acquire_or_renew() is True
    assert lease.held()
    assert row().token == 1


def test_held_measures_from_before_the_write(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow write must not extend the local lease past the one stored in the database."""
    lease = Lease(ttl=TTL)
    update = QuerySet.update

    def slow_update(self: QuerySet[SchedulerLease], **kwargs: object) -> int:
        clock.advance(5)
        return update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", slow_update)
    assert lease.acquire_or_renew()
    clock.advance(TTL - 5)  # TTL seconds after the attempt began, though only TTL-5 after it
    assert not lease.held()


def test_losing_the_lease_to_another_owner(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = Lease(ttl=TTL), Lease(ttl=TTL)
    assert first.acquire_or_renew()
    expire_in_db()
    assert second.acquire_or_renew()

    # Until its renewal is due the first holder still believes it leads (it self-fences in time).
    assert first.acquire_or_renew() is True

    clock.advance(first.renew_every + 0.1)
    with caplog.at_level(logging.WARNING, logger="django_housekeeping.scheduler"):
        assert first.acquire_or_renew() is False

    assert first.token is None
    assert not first.held()
    assert f"Lost the scheduler lease ({first.owner})" in caplog.text
    stored = row()
    assert stored.owner == second.owner
    assert stored.token == 2


# -- release ------------------------------------------------------------------------------------


def test_release_frees_the_lease_for_another_owner_at_once(clock: FakeClock) -> None:
    first, second = Lease(ttl=TTL), Lease(ttl=TTL)
    assert first.acquire_or_renew()

    first.release()

    assert first.token is None
    assert not first.held()
    stored = row()
    assert stored.owner == ""
    assert stored.expires_at <= timezone.now()
    assert str(stored) == f"{LEASE_NAME}: free"
    assert second.acquire_or_renew() is True  # no waiting for the TTL
    assert row().owner == second.owner
    assert row().token == 2


def test_release_without_the_lease_writes_nothing(django_assert_num_queries: object) -> None:
    lease = Lease(ttl=TTL)
    with django_assert_num_queries(0):  # type: ignore[operator]
        lease.release()
    assert row().owner == ""
    assert row().token == 0


def test_release_after_losing_the_lease_leaves_the_new_owner_alone(clock: FakeClock) -> None:
    first, second = Lease(ttl=TTL), Lease(ttl=TTL)
    assert first.acquire_or_renew()
    expire_in_db()
    assert second.acquire_or_renew()

    first.release()  # still believes it holds token 1; the row says token 2

    stored = row()
    assert stored.owner == second.owner
    assert stored.expires_at > timezone.now()


# -- odds and ends ------------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [0, -1, -0.5])
def test_a_non_positive_ttl_is_rejected(ttl: float) -> None:
    with pytest.raises(ValueError, match="TTL must be positive"):
        Lease(ttl=ttl)


def test_leases_with_different_names_are_independent(clock: FakeClock) -> None:
    first, other = Lease(ttl=TTL), Lease(ttl=TTL, name="other")
    assert first.acquire_or_renew()
    assert other.acquire_or_renew()  # a new row, taken at once
    assert SchedulerLease.objects.count() == 2
    assert row().owner == first.owner
    assert SchedulerLease.objects.get(name="other").owner == other.owner


def test_a_row_created_concurrently_is_not_an_error(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes may both see no row and both insert it: the loser carries on."""
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)

    assert Lease(ttl=TTL).acquire_or_renew() is True

    assert SchedulerLease.objects.count() == 1


def test_of_two_standbys_racing_for_an_expired_lease_one_wins(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other standby's take-over lands between this one's read and its conditional write."""
    mine, theirs = Lease(ttl=TTL), Lease(ttl=TTL)
    update = QuerySet.update
    raced: list[bool] = []

    def racing_update(self: QuerySet[SchedulerLease], **kwargs: object) -> int:
        if kwargs.get("owner") == mine.owner and not raced:
            raced.append(True)
            assert theirs.acquire_or_renew()
        return update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", racing_update)

    assert mine.acquire_or_renew() is False

    assert raced
    assert mine.token is None
    assert not mine.held()
    assert row().owner == theirs.owner
    assert row().token == 1 == theirs.token
