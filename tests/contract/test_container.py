"""The container an office builds from deploy/Containerfile, built and run here with podman:
on a Debian 12 base made by debootstrap (no registry), with a data volume and the example
organisation mounted read-only, as the README's "Container" section runs it.

Fails, never skips, when podman, runc or debootstrap is missing (`.ci/run` installs them).
A cold machine spends ~1.5 min on the base image and ~2 min on the build; later runs reuse
both (podman's layer cache)."""
from __future__ import annotations

import json
import re
import shutil
import time
import uuid

import pytest

from tests.conftest import EXAMPLE_CONFIG, REPO
from tests.realparts.debian import build_image, podman, podman_flags, wait_for_healthz
from tests.realparts.dovecot import free_port

TAG = "localhost/avvikelsebot:test"
UID = 10001


@pytest.fixture(scope="module")
def image():
    build_image(REPO, TAG)
    return TAG


def test_the_image_runs_as_its_user_keeps_the_data_as_a_volume_and_checks_healthz(image):
    [inspected] = json.loads(podman("image", "inspect", image).stdout)
    config = inspected["Config"]
    assert config["User"] == "avvikelsebot:avvikelsebot"
    assert "/var/lib/avvikelsebot" in config["Volumes"]
    assert config["Entrypoint"] == ["avvikelsebot"] and config["Cmd"] == ["run"]
    assert "/healthz" in " ".join(inspected["Healthcheck"]["Test"])  # kept: built --format docker
    # the program and its pins: Debian's Python, the wheel's modules, requirements.lock's versions
    done = podman("run", "--rm", *podman_flags(), "--entrypoint", "sh", image, "-ec",
                  "id -u; python --version; pip check; "
                  "python -c 'import bot.usecases, bot.cli, handlers, reminders, config; "
                  "print(bot.usecases.__file__)'; pip freeze; avvikelsebot --version")
    lines = done.stdout.splitlines()
    # the commit it was built from, passed as the README's build command does
    from tests.realparts.debian import source_commit
    assert source_commit(REPO)[:7] in lines[-1], lines[-1]
    lines = lines[:-1]
    assert lines[0] == str(UID)
    assert lines[1] == "Python 3.11.2"                        # Debian 12's own
    assert lines[3].startswith("/opt/avvikelsebot/venv/lib/python3.11/site-packages/bot/")
    def pinned(text_lines):                                  # name==version, normalised
        return {re.sub(r"[-_.]+", "-", line.split(" ")[0].lower()) for line in text_lines
                if "==" in line and not line.startswith((" ", "#"))}
    locked = pinned((REPO / "requirements.lock").read_text(encoding="utf-8").splitlines())
    assert locked <= pinned(lines[4:]), locked - pinned(lines[4:])


def test_the_container_starts_answers_healthz_runs_the_commands_and_stops_cleanly(image, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(EXAMPLE_CONFIG, etc / "organisation.toml")
    shutil.copy(REPO / "config" / ".env.example", etc / "avvikelsebot.env")
    for f in etc.iterdir():
        f.chmod(0o644)                                     # the README: readable by the bot
    name = f"avvikelsebot-test-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-data"
    port = free_port()
    podman("volume", "create", volume)
    try:
        podman("run", "-d", "--name", name, *podman_flags(),
               "-v", f"{volume}:/var/lib/avvikelsebot", "-v", f"{etc}:/etc/avvikelsebot:ro",
               "-p", f"127.0.0.1:{port}:9464", image)
        try:
            assert wait_for_healthz(port, 60) == 200
        except AssertionError as error:
            logs = podman("logs", name, check=False)
            raise AssertionError(f"{error}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}") from None
        # the image's own HEALTHCHECK (podman runs it on demand: no systemd timers here)
        assert podman("healthcheck", "run", name, check=False).returncode == 0
        # the main process runs as uid 10001, not root (read from the host's /proc)
        pid = podman("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
        status = open(f"/proc/{pid}/status", encoding="utf-8").read()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids == [str(UID)] * 4, status
        checked = podman("exec", name, "avvikelsebot", "check-config", check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "/etc/avvikelsebot/organisation.toml är giltig" in checked.stdout
        assert "datakatalog: /var/lib/avvikelsebot" in checked.stdout
        demo = podman("exec", name, "avvikelsebot", "demo", check=False, timeout=180)
        assert demo.returncode == 0 and "Demo klar." in demo.stdout, demo.stdout + demo.stderr
        # the bot wrote its data directory: in the volume, owned by its user
        listed = podman("exec", name, "stat", "-c", "%u %a %n", "/var/lib/avvikelsebot",
                        "/var/lib/avvikelsebot/inbox").stdout.split("\n")
        assert listed[0] == f"{UID} 700 /var/lib/avvikelsebot", listed
        assert listed[1].startswith(f"{UID} ") and listed[1].endswith("/inbox"), listed
        started = time.monotonic()
        podman("stop", "-t", "30", name, timeout=60)
        stopped_in = time.monotonic() - started
        state = json.loads(podman("inspect", "--format", "{{json .State}}", name).stdout)
        assert state["Status"] == "exited" and state["ExitCode"] == 0, state
        assert stopped_in < 25, f"SIGTERM took {stopped_in:.1f}s (not killed after the timeout?)"
        logs = podman("logs", name)
        assert "Avvikelsebot har stoppat." in logs.stdout + logs.stderr
    finally:
        podman("rm", "-f", name, check=False)
        podman("volume", "rm", "-f", volume, check=False)


def test_the_health_check_of_a_container_whose_bot_is_not_listening_fails(image):
    """The HEALTHCHECK decides by the answer, not by the process: nothing on the port → unhealthy."""
    name = f"avvikelsebot-test-{uuid.uuid4().hex[:8]}"
    try:
        podman("run", "-d", "--name", name, *podman_flags(), "--entrypoint", "sleep", image, "300")
        assert podman("healthcheck", "run", name, check=False, timeout=60).returncode != 0
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)

