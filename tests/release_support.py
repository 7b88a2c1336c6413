"""Released versions of avvikelsebot, run as they were: their own source, unchanged.

tests/fixtures/releases/avvikelsebot-<version>.tar.gz is `git archive` of the release commit
(bot, handlers, reminders, config, pyproject.toml, README.md; no tests), so a test does not
depend on the depth of the git history it runs in:

    git archive --format=tar.gz --prefix=avvikelsebot-0.1.0/ \
        -o tests/fixtures/releases/avvikelsebot-0.1.0.tar.gz 30d5fa7 \
        bot handlers reminders config pyproject.toml README.md
    (0.2.0: the same from 9735d1c; 0.3.0 from c287622, the tag v0.3.0)

`unpack` makes a venv for one (no pip, no network: a .pth puts the release's source first,
then this venv's site-packages for the third-party libraries, which may be today's) and
runs its command line as a subprocess in a neutral directory, so that no `bot` of this
checkout can be imported instead.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import tarfile
from dataclasses import dataclass
from pathlib import Path

RELEASES = Path(__file__).resolve().parent / "fixtures" / "releases"
COMMITS = {"0.1.0": "30d5fa7", "0.2.0": "9735d1c", "0.3.0": "c287622"}
CURRENT_CLI = str(Path(sys.executable).with_name("avvikelsebot"))


def clean_env(home: Path) -> dict[str, str]:
    """No variable of this machine's environment reaches a bot (no DATABASE_URL, no
    AVVIKELSEBOT_DATA, no PYTHONPATH pointing at this checkout)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "LANG": "C.UTF-8"}


@dataclass
class Release:
    version: str
    root: Path          # the unpacked source
    python: Path        # the venv's interpreter
    home: Path          # a neutral working directory

    @property
    def config(self) -> Path:
        """The release's own example configuration (today's does not load in 0.1.0)."""
        return self.root / "config" / "organisation.example.toml"

    def cli(self, data: Path, *args: str, timeout: float = 30,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.python), "-m", "bot.cli", "--config", str(self.config),
                               "--data", str(data), *args], capture_output=True, text=True,
                              cwd=self.home, env={**clean_env(self.home), **(env or {})},
                              timeout=timeout)

    def script(self, code: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.python), "-c", code, *args], capture_output=True,
                              text=True, cwd=self.home, env=clean_env(self.home), timeout=timeout)


def unpack(version: str, into: Path) -> Release:
    with tarfile.open(RELEASES / f"avvikelsebot-{version}.tar.gz") as archive:
        archive.extractall(into, filter="data")
    root = into / f"avvikelsebot-{version}"
    venv = into / f"venv-{version}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   env=clean_env(into))
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    libraries = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    # a .pth line only adds a path: this venv's editable install of today's bot is not loaded
    (site / "avvikelsebot-release.pth").write_text("\n".join([str(root), *libraries]) + "\n")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root)], check=True,
                   env=clean_env(into))      # compiled once, not at every command
    home = into / f"home-{version}"
    home.mkdir()
    release = Release(version, root, venv / "bin" / "python", home)
    found = release.script("import bot.cli; print(bot.cli.__file__)")
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(root), found.stdout   # the old code runs
    return release


def current_cli(config: Path, data: Path, *args: str, home: Path, timeout: float = 60,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CURRENT_CLI, "--config", str(config), "--data", str(data), *args],
                          capture_output=True, text=True, cwd=home,
                          env={**clean_env(home), **(env or {})}, timeout=timeout)


def tree(root: Path) -> dict[str, str]:
    """Every folder and file under root with its content's hash: equal means byte-identical,
    and nothing added or removed."""
    found: dict[str, str] = {}
    for folder, folders, files in os.walk(root):        # symbolic links are not followed
        relative = Path(folder).relative_to(root)
        found[f"{relative}/"] = "folder"
        for name in folders + files:
            path = Path(folder) / name
            if path.is_symlink():
                found[str(relative / name)] = "link to " + os.readlink(path)
            elif name in files:
                found[str(relative / name)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
