"""A real PostgreSQL server on 127.0.0.1, from a temporary directory (Debian's `postgresql`).

Fails loudly, never skips, when PostgreSQL cannot start: `.ci/run` installs it. PostgreSQL
refuses to run as root, so when the tests run as root the cluster belongs to the `postgres`
system user the package creates, and initdb/pg_ctl run as that user.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.realparts.dovecot import free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run .ci/run (it installs postgresql) "
                           "or apt-get install postgresql")
    return Path(found[-1]).parent


class Postgres:
    """One throw-away cluster: trust authentication on 127.0.0.1 only, fsync off (tests)."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable          # fsync on: for benchmarks, not for tests
        self.bin = _bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="avvikelsebot-pg-"))
        self.port = free_port()
        self.user = "postgres" if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
        self._databases = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.getuid() == 0:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def start(self) -> "Postgres":
        if os.getuid() == 0:
            account = pwd.getpwnam(self.user)
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        os.chmod(self.dir, 0o700)
        data, sockets = self.dir / "data", self.dir / "run"
        done = self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres",
                         "-E", "UTF8", "--locale=C.UTF-8")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr}")
        self._run_as_owner_mkdir(sockets)
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={sockets} "
                   "-c max_connections=200")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._options = options
        self.resume()
        return self

    def resume(self) -> None:
        """Start the (initialised, halted) cluster again on the same port; waits until it
        accepts connections."""
        done = self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "postgres.log"),
                         "-o", self._options, "-w", "-t", "60", "start")
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{self.log()}")

    def halt(self) -> None:
        """Stop the server as an administrator's restart does (fast: every session is ended,
        open transactions roll back); its data stays for resume()."""
        done = self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not stop: {done.stderr}")

    def restart(self) -> None:
        self.halt()
        self.resume()

    def _run_as_owner_mkdir(self, path: Path) -> None:
        path.mkdir(mode=0o700)
        if os.getuid() == 0:
            account = pwd.getpwnam(self.user)
            os.chown(path, account.pw_uid, account.pw_gid)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database, its URL (each test its own)."""
        import psycopg
        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""
