"""A throwaway PostgreSQL primary and its streaming replica, for the throttle's process test.

:func:`start_cluster` ``initdb``s a primary (``wal_level=replica``, replication connections from
127.0.0.1 trusted) in a new temporary directory, on a free port, and ``pg_basebackup -R``s a hot
standby from it on another port; :meth:`Cluster.stop` stops both (``-m immediate``) and deletes the
directory. The server binaries are found at run time (``pg_config --bindir``, else the newest of
Debian's ``/usr/lib/postgresql/*/bin``); PostgreSQL refuses to run as root, so when the tests run
as root the servers run as the ``postgres`` OS user (``runuser``), in a directory it owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_USER = "postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (this module imports no Django:
    the benchmark uses it too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ClusterUnavailable(Exception):
    """No PostgreSQL server binaries on this machine, or no user to run them as."""


def bindir() -> Path:
    """The directory of ``initdb``, ``pg_ctl``, ``pg_basebackup``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found:
            candidates.append(Path(found))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_basebackup").exists():
            return candidate
    raise ClusterUnavailable("no PostgreSQL server binaries (initdb, pg_basebackup) found")


@dataclass
class Server:
    name: str
    data: Path
    port: int


@dataclass
class Cluster:
    """A running primary and replica; ``database(alias)`` gives Django settings for each."""

    root: Path
    bin: Path
    primary: Server
    replica: Server
    as_user: list[str]

    def run(self, program: str, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [*self.as_user, str(self.bin / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if done.returncode:
            raise RuntimeError(f"{program} {' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout

    def start(self, server: Server) -> None:
        options = f"-p {server.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self.run(
            "pg_ctl", "-D", str(server.data), "-l", str(self.root / f"{server.name}.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop both servers (those running) and delete everything."""
        for server in (self.replica, self.primary):
            if (server.data / "postmaster.pid").exists():
                stop = ["-D", str(server.data), "-m", "immediate", "-w", "stop"]
                subprocess.run(
                    [*self.as_user, str(self.bin / "pg_ctl"), *stop],
                    capture_output=True,
                    timeout=60,
                    check=False,
                )
        shutil.rmtree(self.root, ignore_errors=True)

    def database(self, server: Server, name: str = "postgres") -> dict[str, Any]:
        """``DATABASES`` settings for ``server`` (complete, as Django's handler fills them in)."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": str(server.port),
            "ATOMIC_REQUESTS": False,
            "AUTOCOMMIT": True,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "OPTIONS": {},
            "TIME_ZONE": None,
            "TEST": {"CHARSET": None, "COLLATION": None, "MIGRATE": True, "MIRROR": None},
        }

    def log(self, server: Server) -> str:
        path = self.root / f"{server.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_cluster(primary_settings: str = "") -> Cluster:
    """A primary and a streaming replica, both started; :meth:`Cluster.stop` them (also when
    this fails half-way, it stops what it started). ``primary_settings``: more lines for the
    primary's postgresql.conf."""
    binaries = bindir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError as error:
            raise ClusterUnavailable(f"running as root and no {SERVER_USER!r} user") from error
        as_user = ["runuser", "-u", SERVER_USER, "--"]
    root = Path(tempfile.mkdtemp(prefix="housekeeping-pg-"))
    if as_user:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = Cluster(
        root=root,
        bin=binaries,
        primary=Server("primary", root / "primary", free_port()),
        replica=Server("replica", root / "replica", free_port()),
        as_user=as_user,
    )
    try:
        cluster.run(
            "initdb", "-D", str(cluster.primary.data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        with (cluster.primary.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\n" + primary_settings + "\n"
            )
        with (cluster.primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        cluster.start(cluster.primary)
        cluster.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(cluster.primary.port), "-U",
            "postgres", "-D", str(cluster.replica.data), "-R", "-X", "stream",
            "--checkpoint=fast", "--no-sync",
        )  # fmt: skip
        cluster.start(cluster.replica)
    except BaseException:
        cluster.stop()
        raise
    return cluster
