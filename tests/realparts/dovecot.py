"""A real Dovecot IMAP server on 127.0.0.1, from a temporary directory (DESIGN §12).

Fails loudly, never skips, when Dovecot cannot start: `.ci/run` installs dovecot-imapd.
Every user's password is `secret`; mail lives in Maildir under the temporary directory.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PASSWORD = "secret"
_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = dovecot-test-{port}
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {iu}
default_internal_group = {ig}
default_login_user = {lu}
first_valid_uid = 0
mail_location = maildir:{d}/mail/%n
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={mu} gid={mg} home={d}/mail/%n
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    user = {iu}
  }}
  unix_listener stats-writer {{
    user = {iu}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dovecot_binary() -> str:
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot")
                                        else None)
    if found is None:
        raise RuntimeError("Dovecot is not installed: run .ci/run (it installs dovecot-imapd) or "
                           "apt-get install dovecot-imapd")
    return found


class Dovecot:
    """start() / stop() / restart(); `port` stays the same across a restart."""

    def __init__(self):
        # unix socket paths must stay under 108 bytes: a short directory under /tmp
        self.dir = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(_CONF.format(d=self.dir, port=self.port, password=PASSWORD,
                                          **self._users()))
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir(exist_ok=True)
        if os.getuid() == 0:   # imap-login refuses root: the mail belongs to the dovecot user
            account = pwd.getpwnam("dovecot")
            os.chown(self.dir / "mail", account.pw_uid, account.pw_gid)

    @staticmethod
    def _users() -> dict[str, str]:
        if os.getuid() == 0:
            return dict(iu="dovecot", ig="dovecot", lu="dovenull", mu="dovecot", mg="dovecot")
        me = pwd.getpwuid(os.getuid())
        import grp
        group = grp.getgrgid(os.getgid()).gr_name
        return dict(iu=me.pw_name, ig=group, lu=me.pw_name, mu=me.pw_name, mg=group)

    def start(self) -> "Dovecot":
        # its own process group: stop() ends the imap processes with the master, as a
        # server crash or reboot does, so open client connections really break
        self.process = subprocess.Popen([_dovecot_binary(), "-F", "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot exited: {self.process.stderr.read().decode()[-500:]}"
                                   f"\n{self.log()[-800:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(64).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"Dovecot did not answer on 127.0.0.1:{self.port}\n{self.log()[-800:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            group = os.getpgid(self.process.pid)
            os.killpg(group, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(group, signal.SIGKILL)
                self.process.wait()
            try:
                os.killpg(group, signal.SIGKILL)   # any imap process still serving a client
            except ProcessLookupError:
                pass
        self.process = None
        # a restarted master would refuse while the old one's children still hold the port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.05)
            except OSError:
                return

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, user: str):
        """A second, independent IMAP client: what another mail client or the MTA does."""
        from imapclient import IMAPClient
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, PASSWORD)
        return client

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        with self.client(user) as client:
            client.append(folder, raw)

    def messages(self, user: str, folder: str) -> list[bytes]:
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [data[u][b"BODY[]"] for u in sorted(data)]
