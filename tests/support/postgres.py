"""Throwaway PostgreSQL clusters for the tests: Debian's server, in a temp folder, on loopback.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user that
Debian's package creates (or ``nobody``); its folder is made in ``/tmp`` (world-traversable,
unlike pytest's own temp folders) and given to that user. Durability is switched off: the tests
kill Lore's indexer, never the server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if found and int(Path(found[-1]).parent.name) >= 15:
        return Path(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL 15 or newer is needed (Debian: apt-get install postgresql; make test "
        "installs it)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One PostgreSQL server: ``start()`` a primary, or ``replica_of(primary)`` a standby."""

    def __init__(self, base: Path, name: str) -> None:
        self.bin = _bindir()
        self.base = base
        self.data = base / name
        self.port = _free_port()
        self.superuser = "lore"
        self._user = None
        if os.geteuid() == 0:
            for candidate in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    self._user = pwd.getpwnam(candidate)
                    break

    def _run(self, *args: str) -> None:
        kwargs = {}
        if self._user is not None:
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid}
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.base,
            **kwargs,
        )

    def url(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@127.0.0.1:{self.port}/{dbname}"

    def _configure(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.base}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "60",
            "wal_level": "replica",
            "max_wal_senders": "4",
            "hot_standby": "on",
            "log_min_messages": "warning",
        }
        with open(self.data / "postgresql.auto.conf", "a", encoding="utf-8") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def start(self) -> Cluster:
        self._run(
            "initdb", "-D", str(self.data), "-U", self.superuser, "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        with open(self.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        self._configure()
        self._pg_ctl_start()
        return self

    def replica_of(self, primary: Cluster) -> Cluster:
        """A streaming standby of ``primary``, from ``pg_basebackup -R``."""
        self._run(
            "pg_basebackup", "-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", primary.superuser, "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        self._configure()  # its own port; the rest as the primary's
        self._pg_ctl_start()
        return self

    def _pg_ctl_start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.data / "log"), "start")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def temp_base():
    """A folder in /tmp the cluster's user can enter, removed at the end."""
    base = Path(tempfile.mkdtemp(prefix="lore-pg-"))
    if os.geteuid() == 0:
        for candidate in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                user = pwd.getpwnam(candidate)
                os.chown(base, user.pw_uid, user.pw_gid)
                break
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)
