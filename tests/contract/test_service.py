"""The systemd unit under a real systemd: a Debian 12 (debootstrap) booted with systemd-nspawn,
the program installed as the README's "Install as a service (Debian 12)" does (a system user,
a venv from requirements.lock plus the wheel, /etc/avvikelsebot root:avvikelsebot 0640, the
data directory 0700), deploy/avvikelsebot.service enabled; the booted systemd starts it with
all its hardening, /healthz answers, `systemctl stop` ends it with a clean exit.

Fails, never skips, when debootstrap or systemd-nspawn is missing (`.ci/run` installs them).
A cold machine spends ~1.5 min on the root (cached afterwards) and ~1 min installing the lock."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import REPO
from tests.realparts.debian import (CACHE, HOST_CA, init_pid, inside, nspawn, systemd_root, tool,
                                    wait_for_healthz)
from tests.realparts.dovecot import free_port

SRC = "/opt/avvikelsebot/src"
# the README's steps 1-5, as root, the package from its wheel (check-config without --online:
# the example's mailbox is a maildir)
INSTALL = f"""set -eux
adduser --system --group --no-create-home --home /var/lib/avvikelsebot avvikelsebot
python3 -m venv /opt/avvikelsebot/venv
/opt/avvikelsebot/venv/bin/pip install --require-hashes --no-deps -r {SRC}/requirements.lock
/opt/avvikelsebot/venv/bin/pip install --no-deps {SRC}/dist/avvikelsebot-*.whl
install -d -m 0750 -o root -g avvikelsebot /etc/avvikelsebot
install -m 0640 -o root -g avvikelsebot {SRC}/config/organisation.example.toml /etc/avvikelsebot/organisation.toml
install -m 0640 -o root -g avvikelsebot {SRC}/config/.env.example /etc/avvikelsebot/avvikelsebot.env
install -d -m 0700 -o avvikelsebot -g avvikelsebot /var/lib/avvikelsebot
sudo -u avvikelsebot env AVVIKELSEBOT_CONFIG=/etc/avvikelsebot/organisation.toml \\
    AVVIKELSEBOT_ENV=/etc/avvikelsebot/avvikelsebot.env AVVIKELSEBOT_DATA=/var/lib/avvikelsebot \\
    /opt/avvikelsebot/venv/bin/avvikelsebot check-config
cp {SRC}/deploy/avvikelsebot.service /etc/systemd/system/
mkdir -p /etc/systemd/system/avvikelsebot.service.d
printf '[Service]\\nEnvironment=HEALTH_PORT=%s\\n' "$HEALTH_PORT" \\
    > /etc/systemd/system/avvikelsebot.service.d/port.conf
systemctl enable avvikelsebot
"""


def staged_source(into: Path) -> None:
    """What an office unpacks to /opt/avvikelsebot/src: the lock, config, deploy, the wheel."""
    into.mkdir(parents=True)
    shutil.copy(REPO / "requirements.lock", into)
    shutil.copytree(REPO / "config", into / "config",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(REPO / "deploy", into / "deploy")
    # the wheel from a clean copy: setuptools reuses a checkout's build/, stale modules included
    scratch = Path(tempfile.mkdtemp(prefix="avvikelsebot-wheel-"))
    clean = scratch / "src"
    shutil.copytree(REPO, clean, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "tests", "benchmarks", "data"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(into / "dist"), str(clean)],
                           capture_output=True, text=True, timeout=600)
    shutil.rmtree(scratch)
    assert built.returncode == 0, built.stderr


def show(pid: int, *properties: str) -> dict[str, str]:
    done = inside(pid, "systemctl", "show", "avvikelsebot", *[f"--property={p}" for p in properties])
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def test_the_unit_starts_under_systemd_answers_healthz_and_stops_cleanly(tmp_path):
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", "--reflink=auto", str(systemd_root()), str(root)], check=True,
                   timeout=600)
    staged_source(root / SRC.lstrip("/"))
    port = free_port()
    pip_cache = CACHE / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    env = {"HEALTH_PORT": str(port)}
    read_only = []
    if HOST_CA.is_file():                     # a TLS-inspecting proxy's CA, for pip only
        read_only.append(f"{HOST_CA}:/run/host-ca.crt")
        env["PIP_CERT"] = "/run/host-ca.crt"
    installed = nspawn(root, "sh", "-c", INSTALL, read_only=tuple(read_only),
                       writable=(f"{pip_cache}:/root/.cache/pip",), env=env)
    assert installed.returncode == 0, installed.stdout[-4000:] + installed.stderr[-4000:]
    assert "organisation.toml är giltig" in installed.stdout

    console = (tmp_path / "console.log").open("wb")
    booted = subprocess.Popen([tool("systemd-nspawn"), "--quiet", "--register=no", "--keep-unit",
                               "-D", str(root), "--boot"], stdin=subprocess.DEVNULL,
                              stdout=console, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while (pid := init_pid(booted.pid)) is None:
            assert booted.poll() is None, (tmp_path / "console.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "the container's systemd did not appear"
            time.sleep(0.2)
        try:
            assert wait_for_healthz(port, 90) == 200      # started at boot (enabled)
        except AssertionError as error:
            journal = inside(pid, "journalctl", "-u", "avvikelsebot", "--no-pager", "-o", "cat")
            raise AssertionError(f"{error}\n{journal.stdout[-4000:]}") from None
        state = show(pid, "ActiveState", "SubState", "MainPID", "User", "NRestarts")
        assert (state["ActiveState"], state["SubState"]) == ("active", "running"), state
        assert state["NRestarts"] == "0", state
        status = inside(pid, "cat", f"/proc/{state['MainPID']}/status").stdout
        uid = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]
        user = inside(pid, "id", "-u", "avvikelsebot").stdout.strip()
        assert uid == user != "0", status
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        # the unit's hardening took effect in the process (not only in the file)
        assert fields["NoNewPrivs"].strip() == "1", status
        assert fields["Seccomp"].strip() == "2", status                  # a filter
        assert int(fields["CapBnd"], 16) == int(fields["CapEff"], 16) == 0, status
        journal = inside(pid, "journalctl", "-u", "avvikelsebot", "--no-pager", "-o", "cat").stdout
        assert "avvikelsebot kör: källa=maildir data=/var/lib/avvikelsebot" in journal, journal

        stopped = inside(pid, "systemctl", "stop", "avvikelsebot", timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        state = show(pid, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        assert state == {"ActiveState": "inactive", "Result": "success",
                         "ExecMainCode": "1", "ExecMainStatus": "0"}, state   # 1 = CLD_EXITED
        journal = inside(pid, "journalctl", "-u", "avvikelsebot", "--no-pager", "-o", "cat").stdout
        assert "Avvikelsebot har stoppat." in journal, journal
        inside(pid, "systemctl", "poweroff")
        assert booted.wait(timeout=120) == 0
    finally:
        if booted.poll() is None:
            booted.terminate()                # nspawn asks the container's systemd to halt
            try:
                booted.wait(timeout=60)
            except subprocess.TimeoutExpired:
                booted.kill()
                booted.wait()
        console.close()
        shutil.rmtree(root, ignore_errors=True)
