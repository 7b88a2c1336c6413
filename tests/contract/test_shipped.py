"""What is shipped is what was tested: the wheel an office installs, run as an office runs it.

The rest of the suite runs the editable checkout; these tests build the wheel from this
checkout (`pip wheel --no-deps`, as the README's service install does), compare it with the
source tree, and install it into a fresh venv OUTSIDE the checkout made by /usr/bin/python3,
Debian 12's own Python 3.11.2: `requirements.lock` with --require-hashes --no-deps, then the
wheel with --no-deps, then `pip check`. From there, with nothing of the checkout on the path:
every module of the installed distribution imports, `--version` names the release and the
commit, `demo` and `check-config` work, and a short `run` turns a mail delivered into a real
Dovecot into a diarised case and a Slack post to the manager (a local Slack Web API), then
stops on SIGTERM with exit 0. `.ci/run` runs these with the rest of the suite."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from bot.buildinfo import BUILD_FILE, describe, from_git
from tests.conftest import EXAMPLE_CONFIG, REPO
from tests.fakes.mail import make_mail
from tests.fakes.slack_api import FakeSlackApi
from tests.realparts.dovecot import PASSWORD
from tests.scenario.test_slack import ANNA_DM, SECRET, USERS, slack_config

PACKAGES = ("bot", "handlers", "reminders", "config")   # pyproject's packages.find include
DEBIAN_PYTHON = Path("/usr/bin/python3")
DEBIAN_12_PYTHON = (3, 11, 2)
LOCK = REPO / "requirements.lock"
RELEASE = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
MAILBOX = "registrator.vok"
DEADLINE = 60.0


def sh(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None,
       timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def must(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{' '.join(done.args)}\nexit {done.returncode}\n" \
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


# ---------------------------------------------------------------------------- the wheel
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # setuptools' in-tree leftovers of an earlier build (both ignored by git): build/ would
    # ship a module since removed, and egg-info's SOURCES.txt would ship files the package
    # configuration misses (it hid the missing bot/usecases on a developer's checkout)
    for leftover in (REPO / "build", *REPO.glob("*.egg-info")):
        shutil.rmtree(leftover, ignore_errors=True)
    must(sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, REPO], cwd=out))
    [built] = out.glob("avvikelsebot-*.whl")
    return built


def source_files() -> set[str]:
    """Every file under the shipped packages, .py and data alike, caches aside."""
    found = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*"):
            relative = path.relative_to(REPO)
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
                found.add(relative.as_posix())
    return found


def test_the_wheel_holds_every_module_and_data_file_of_the_source_tree(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if not n.startswith("avvikelsebot-")}     # the .dist-info
    source = source_files()
    assert f"bot/{BUILD_FILE}" in shipped                                  # the build's commit
    assert sorted(source - shipped) == [], "in the source tree, missing from the wheel"
    assert sorted(shipped - source - {f"bot/{BUILD_FILE}"}) == [], "in the wheel, not in the source"
    assert {"bot/usecases/intake.py", "bot/store/migrations/001_initial.sql",
            "config/.env.example", "bot/web/templates/base.html"} <= shipped
    assert wheel.name == f"avvikelsebot-{RELEASE}-py3-none-any.whl"


# ---------------------------------------------------------------------------- the office
def debian_python() -> Path:
    if not DEBIAN_PYTHON.is_file():
        pytest.fail(f"{DEBIAN_PYTHON} is missing: apt-get install -y python3 python3-venv")
    done = must(sh([DEBIAN_PYTHON, "-c", "import sys, ensurepip, venv; print(*sys.version_info[:3])"],
                   cwd=Path("/")))
    version = tuple(int(n) for n in done.stdout.split())
    assert version == DEBIAN_12_PYTHON, f"{DEBIAN_PYTHON} is {version}, not Debian 12's Python"
    return DEBIAN_PYTHON


class Office:
    """A venv made as the README makes it, and the installed command run from outside."""

    def __init__(self, root: Path):
        self.root = root
        self.venv = root / "venv"
        self.bin = self.venv / "bin"
        self.cli = self.bin / "avvikelsebot"
        self.home = root / "home"
        self.home.mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        """What the systemd unit gives the bot: no PYTHONPATH, nothing of the checkout."""
        return {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8",
                **{k: v for k, v in os.environ.items() if k.startswith("PIP_")}, **extra}

    def run(self, *args, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        return sh([self.cli, *args], cwd=self.home, env=self.env(**extra), timeout=timeout)


@pytest.fixture(scope="module")
def office(tmp_path_factory, wheel) -> Office:
    root = tmp_path_factory.mktemp("office")
    assert not root.resolve().is_relative_to(REPO.resolve())
    at = Office(root)
    must(sh([debian_python(), "-m", "venv", at.venv], cwd=root))
    pip = [at.bin / "python", "-m", "pip"]
    must(sh([*pip, "install", "-q", "--require-hashes", "--no-deps", "-r", LOCK], cwd=root, env=at.env()))
    must(sh([*pip, "install", "-q", "--no-deps", wheel], cwd=root, env=at.env()))
    must(sh([*pip, "check"], cwd=root, env=at.env()))
    return at


IMPORT_ALL = """
import importlib, importlib.metadata, json, pathlib, sys
dist = importlib.metadata.distribution("avvikelsebot")
site = pathlib.Path(dist.locate_file("")).resolve()
names = []
for file in dist.files:
    if file.suffix == ".py" and file.parts[0] != "..":
        parts = list(file.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
where = {}
for name in sorted(names):
    where[name] = str(pathlib.Path(importlib.import_module(name).__file__).resolve())
print(json.dumps({"python": sys.version.split()[0], "site": str(site), "modules": where}))
"""


def test_debians_python_installs_the_lock_and_the_wheel_and_imports_every_module(office):
    done = must(sh([office.bin / "python", "-I", "-c", IMPORT_ALL], cwd=office.home, env=office.env()))
    found = json.loads(done.stdout)
    assert found["python"] == ".".join(map(str, DEBIAN_12_PYTHON))
    expected = sorted(".".join(Path(p).with_suffix("").parts).removesuffix(".__init__")
                      for p in source_files() if p.endswith(".py"))
    assert sorted(found["modules"]) == expected
    assert all(Path(f).is_relative_to(found["site"]) for f in found["modules"].values())
    assert "bot.usecases.intake" in found["modules"]


def test_version_names_the_release_and_the_commit_it_was_built_from(office):
    done = must(office.run("--version"))
    assert not (office.root / ".git").exists() and not list(office.venv.rglob(".git"))
    assert done.stdout.strip() == f"avvikelsebot {describe(RELEASE, from_git(REPO, RELEASE))}"
    assert done.stdout.startswith(f"avvikelsebot {RELEASE}")
    if not from_git(REPO, RELEASE)["tagged"]:
        head = must(sh(["git", "-C", REPO, "rev-parse", "--short=7", "HEAD"], cwd=REPO)).stdout.strip()
        assert f"+g{head}" in done.stdout


def test_the_installed_demo_runs_in_swedish(office):
    done = must(office.run("demo"))
    assert "Intaget: nytt ärende VOK 2026/0001" in done.stdout
    assert "── Till Anna Andersson (att göra)" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_the_installed_check_config_accepts_the_example(office):
    done = must(office.run("--config", EXAMPLE_CONFIG, "--data", office.root / "check", "check-config"))
    assert "är giltig" in done.stdout
    summary = json.loads(must(office.run("--config", EXAMPLE_CONFIG, "--data", office.root / "check",
                                         "check-config", "--json")).stdout)
    assert summary["ok"] is True and summary["units"] == 5


# ---------------------------------------------------------------------------- a short run
def until(what: str, check, deadline: float):
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE:.0f} s: {what}")
        time.sleep(0.1)


def test_the_installed_run_diarises_a_mail_from_dovecot_posts_to_slack_and_stops(office, dovecot,
                                                                                 tmp_path):
    config, data = slack_config(tmp_path), tmp_path / "data"
    env = dict(MAIL_SOURCE="imap", IMAP_HOST="127.0.0.1", IMAP_PORT=str(dovecot.port),
               IMAP_SECURITY="none", IMAP_USER=MAILBOX, IMAP_PASSWORD=PASSWORD,
               SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET, SLACK_PORT="0",
               HEALTH_PORT="0")
    with FakeSlackApi(USERS) as slack:
        env["SLACK_API_URL"] = slack.url
        bot = subprocess.Popen([office.cli, "--config", config, "--data", data, "run"],
                               cwd=office.home, env=office.env(**env), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + DEADLINE
            dovecot.deliver(MAILBOX, make_mail(
                sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                subject="Avvikelse Hemtjänst Norr – utebliven insulindos",
                message_id="<shipped-1@regionexempel.se>",
                body="Hej,\nvi anmäler en avvikelse i hemtjänsten.\nMvh Lisa"))
            [post] = until("the post to Anna in Slack", lambda: [
                m for m in slack.conversation(ANNA_DM) if "VOK 2026/0001" in (m["text"] or "")],
                deadline)
            status = until("the case in `status --json`", lambda: _status(office, config, data, env),
                           deadline)
            assert (status["diary_number"], status["unit"], status["counterpart"]) == (
                "VOK 2026/0001", "hemtjanst-norr", "region-exempel")
            until("the mail filed in Diarierat", lambda: dovecot.messages(MAILBOX, "Diarierat"),
                  deadline)
            assert bot.poll() is None, bot.stderr.read()
        finally:
            if bot.poll() is None:
                bot.send_signal(signal.SIGTERM)
            out, err = bot.communicate(timeout=DEADLINE)
    assert bot.returncode == 0, err[-3000:]
    assert "Traceback" not in out + err
    assert dovecot.messages(MAILBOX, "INBOX") == []
    assert "utebliven insulindos" in post["text"]


def _status(office: Office, config: Path, data: Path, env: dict[str, str]):
    done = office.run("--config", config, "--data", data, "status", "VOK 2026/0001", "--json", **env)
    return json.loads(done.stdout) if done.returncode == 0 else None
