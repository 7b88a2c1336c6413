"""The deployment kit: the systemd unit as systemd itself reads it (systemd-analyze verify
and security, from Debian's systemd), the container file's health check run against a real
health endpoint, and the lock file against the compatible ranges."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from bot.app import build
from bot.ops.health import DEFAULT_PORT, HealthServer
from bot.settings import Settings
from tests.conftest import EXAMPLE_CONFIG, REPO

UNIT = REPO / "deploy" / "avvikelsebot.service"
CONTAINERFILE = REPO / "deploy" / "Containerfile"
LOCK = REPO / "requirements.lock"
INSTALLED = "/opt/avvikelsebot/venv/bin/avvikelsebot"


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: apt-get install -y systemd")
    return found


def unit_settings() -> dict[str, list[str]]:
    """Key → values in file order (systemd allows a key more than once)."""
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def unit_for_this_checkout(tmp_path: Path) -> Path:
    """The unit with ExecStart at this checkout's console script: verify checks it exists."""
    here = Path(sys.executable).with_name("avvikelsebot")
    assert here.is_file(), f"the console script is missing: {here} (pip install -e .)"
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED in text
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(INSTALLED, str(here)), encoding="utf-8")
    return unit


# ---------------------------------------------------------------------------- systemd
def test_systemd_accepts_the_unit(tmp_path):
    done = subprocess.run([systemd_analyze(), "verify", str(unit_for_this_checkout(tmp_path))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_the_unit_is_hardened(tmp_path):
    done = subprocess.run([systemd_analyze(), "security", "--offline=yes", "--no-pager",
                           str(unit_for_this_checkout(tmp_path))], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout).group(1))
    assert exposure <= 1.5, done.stdout                 # systemd calls ≤ 2.0 "OK"
    s = unit_settings()
    assert s["User"] == ["avvikelsebot"] and "DynamicUser" not in s
    assert s["StateDirectory"] == ["avvikelsebot"] and s["StateDirectoryMode"] == ["0700"]
    assert s["Environment"][:3] == ["AVVIKELSEBOT_CONFIG=/etc/avvikelsebot/organisation.toml",
                                    "AVVIKELSEBOT_ENV=/etc/avvikelsebot/avvikelsebot.env",
                                    "AVVIKELSEBOT_DATA=/var/lib/avvikelsebot"]
    for key, value in {"ProtectSystem": "strict", "ProtectHome": "true", "NoNewPrivileges": "true",
                       "PrivateTmp": "true", "UMask": "0077", "Restart": "on-failure",
                       "CapabilityBoundingSet": "", "RestartPreventExitStatus": "2",
                       "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX"}.items():
        assert s[key] == [value], key
    assert s["SystemCallFilter"][0] == "@system-service"
    assert s["ExecStart"] == [f"{INSTALLED} run"]


# ---------------------------------------------------------------------------- the container
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the container file, continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_the_container_runs_as_a_user_with_the_data_directory_as_a_volume():
    stage = final_stage()
    [user] = [args for word, args in stage if word == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    env = dict(pair.split("=", 1) for word, args in stage if word == "ENV" for pair in shlex.split(args))
    assert env["AVVIKELSEBOT_DATA"] == "/var/lib/avvikelsebot"
    [volume] = [args for word, args in stage if word == "VOLUME"]
    assert env["AVVIKELSEBOT_DATA"] in volume
    assert env["AVVIKELSEBOT_CONFIG"] == "/etc/avvikelsebot/organisation.toml"
    for word, args in instructions():     # everything copied from the checkout exists
        if word == "COPY" and not args.startswith("--from"):
            for source in shlex.split(args)[:-1]:
                assert (REPO / source).exists(), source
    assert any(word == "RUN" and "--require-hashes" in args and "requirements.lock" in args
               for word, args in instructions())


def healthcheck_command() -> list[str]:
    [args] = [args for word, args in final_stage() if word == "HEALTHCHECK"]
    argv = json.loads(re.search(r"CMD (\[.*\])$", args).group(1))
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_the_container_health_check_asks_healthz_on_the_port_the_bot_uses(org, tmp_path, clock):
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org,
                        env={"HEALTH_PORT": "0"})
    bot = build(settings, clock=clock)
    [health] = [f for f in bot.frontends if isinstance(f, HealthServer)]
    check = healthcheck_command()

    async def probe(port: int) -> int:
        process = await asyncio.create_subprocess_exec(
            *check, env={**os.environ, "HEALTH_PORT": str(port)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        return await asyncio.wait_for(process.wait(), 20)

    async def main():
        await health.start()
        try:
            assert await probe(health.port) == 0
        finally:
            await health.stop()
        assert await probe(health.port) != 0         # nothing answers: unhealthy
    try:
        asyncio.run(main())
    finally:
        bot.close()
    assert f"'{DEFAULT_PORT}'" in " ".join(check)      # the default when HEALTH_PORT is unset


# ---------------------------------------------------------------------------- the lock file
def pins() -> dict[str, str]:
    found = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^ \\]+)", line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_the_lock_pins_every_dependency_inside_its_compatible_range_with_hashes():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = pins()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements.lock (regenerate it, README)"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])
    text = LOCK.read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text)[1:]    # one per pinned package
    assert len(blocks) == len(pinned)
    assert all("--hash=sha256:" in block for block in blocks)
    assert "--find-links" not in text and "--index-url" not in text   # nothing of this machine
