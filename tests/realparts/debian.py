"""A Debian 12 system for the deployment tests, built here (no container registry needed):
debootstrap from the machine's own Debian mirror, podman to run the image, systemd-nspawn to
boot a real systemd.

Fails loudly, never skips, when a tool is missing: `.ci/run` installs debootstrap, podman,
runc and systemd-container. The tests need root (podman's rootful store, nspawn).

What this machine allows, and so what every call here passes (README, "Container"):
- no CAP_SYS_RESOURCE: the container's rlimits are set to values within the current hard
  limits (podman's defaults would raise them, and the runtime's setrlimit fails with EPERM);
- cgroups v1 with a cgroup2 hierarchy that holds a controller ("hybrid"): crun refuses that
  ("cgroups in hybrid mode not supported"), runc runs it, so podman uses runc;
- PID 1 is not systemd and there is no system bus: nspawn runs with --register=no --keep-unit.

Both roots are cached between runs (`AVVIKELSEBOT_CI_CACHE`, default /var/tmp/avvikelsebot-ci,
and the podman image localhost/debian:bookworm); a cold machine spends about 1.5 min on each.
"""
from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_IMAGE = "localhost/debian:bookworm"
CACHE = Path(os.environ.get("AVVIKELSEBOT_CI_CACHE") or "/var/tmp/avvikelsebot-ci")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")   # a TLS-inspecting proxy's CA is in here
# the README's service install: Python, venv, adduser, sudo; systemd to boot
SYSTEMD_PACKAGES = ["systemd", "systemd-sysv", "dbus", "python3", "python3-venv",
                    "ca-certificates", "adduser", "sudo"]


class Missing(RuntimeError):
    pass


def tool(name: str) -> str:
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}")
                                        if os.access(p, os.X_OK)), None)
    if found is None:
        raise Missing(f"{name} is missing: run .ci/run (it installs podman, runc, debootstrap "
                      "and systemd-container) or apt-get install it")
    return found


def need_root() -> None:
    if os.geteuid() != 0:
        raise Missing("the container and service tests need root (rootful podman, "
                      "systemd-nspawn); CI runs them as root")


def debian_mirror() -> str:
    """The mirror this machine's apt uses (never written down anywhere: read at run time)."""
    texts = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.is_file() and path.suffix in (".list", ".sources", ""):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    for text in texts:
        for line in text.splitlines():
            one_line = re.match(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", line)
            deb822 = re.match(r"^\s*URIs:\s*(\S+)", line)
            found = one_line or deb822
            if found and "security" not in found.group(1):
                return found.group(1)
    raise Missing("no Debian mirror in /etc/apt/sources.list(.d): debootstrap needs one")


def debootstrap(target: Path, include: list[str] | None = None) -> None:
    """A minimal Debian 12 in `target`, built beside it and renamed into place when whole."""
    need_root()
    building = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        argv = [tool("debootstrap"), "--variant=minbase"]
        if include:
            argv.append("--include=" + ",".join(include))
        done = subprocess.run([*argv, "bookworm", str(building), debian_mirror()],
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        building.chmod(0o755)                 # mkdtemp made it 0700: / of the new system
        building.rename(target)
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)


# ------------------------------------------------------------------------------- podman
def podman_flags() -> list[str]:
    """Runtime and rlimits this machine can give a container (see the module's docstring)."""
    _, nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = min(nofile, 65536) if nofile != resource.RLIM_INFINITY else 65536
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=4096:4096"]


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    need_root()
    done = subprocess.run([tool("podman"), "--runtime", tool("runc"), *args],
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} → {done.returncode}\n{done.stdout[-4000:]}\n"
                           f"{done.stderr[-4000:]}")
    return done


def base_image() -> str:
    """localhost/debian:bookworm: from the cache, else debootstrapped and imported."""
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return BASE_IMAGE
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        root = Path(scratch) / "root"
        debootstrap(root)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run([tool("podman"), "import", "-", BASE_IMAGE], stdin=tar.stdout,
                                  capture_output=True, text=True, timeout=600)
        tar.stdout.close()                      # type: ignore[union-attr]
        if tar.wait() != 0 or imported.returncode != 0:
            raise RuntimeError(f"podman import failed: {imported.stderr}")
    return BASE_IMAGE


def source_commit(repo: Path) -> str:
    """The commit being tested, as the README's build command passes it."""
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                          text=True, timeout=30)
    return done.stdout.strip() if done.returncode == 0 else ""


def build_image(repo: Path, tag: str) -> subprocess.CompletedProcess:
    """deploy/Containerfile on the local Debian base; docker format keeps the HEALTHCHECK."""
    argv = ["build", "--format", "docker", *podman_flags(), "--build-arg", f"BASE={base_image()}",
            "--build-arg", f"AVVIKELSEBOT_BUILD_COMMIT={source_commit(repo)}",
            "-f", str(repo / "deploy" / "Containerfile"), "-t", tag]
    if HOST_CA.is_file():
        argv += ["--secret", f"id=pip-ca,src={HOST_CA}"]
    return podman(*argv, str(repo), timeout=2400)


# ------------------------------------------------------------------------------- nspawn
def systemd_root() -> Path:
    """A cached Debian 12 with systemd and the README's packages (read-only: copy it)."""
    root = CACHE / "bookworm-systemd"
    if not (root / "usr" / "lib" / "systemd" / "systemd").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        if root.exists():
            shutil.rmtree(root)
        debootstrap(root, SYSTEMD_PACKAGES)
    return root


NSPAWN = ["--quiet", "--register=no", "--keep-unit"]


def nspawn(root: Path, *command: str, read_only: tuple[str, ...] = (), writable: tuple[str, ...] = (),
           timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """One command in the root (no systemd booted: like a chroot with namespaces).
    read_only/writable: "host-path:path-inside" binds."""
    argv = [tool("systemd-nspawn"), *NSPAWN, "-D", str(root), "--as-pid2"]
    argv += [f"--bind-ro={b}" for b in read_only] + [f"--bind={b}" for b in writable]
    for key, value in (env or {}).items():
        argv.append(f"--setenv={key}={value}")
    return subprocess.run([*argv, *command], capture_output=True, text=True, timeout=timeout)


def init_pid(nspawn_pid: int) -> int | None:
    """The host pid of the systemd that `systemd-nspawn --boot` (nspawn_pid) started: the
    descendant that is pid 1 in its own pid namespace."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    todo = list(children.get(nspawn_pid, []))
    while todo:
        pid = todo.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        nspid = re.search(r"^NSpid:\s*(.*)$", status, re.M)
        if nspid and len(nspid.group(1).split()) > 1 and nspid.group(1).split()[-1] == "1":
            return pid
        todo += children.get(pid, [])
    return None


def inside(pid: int, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """A command in the booted system's namespaces (as machinectl shell would, without machined)."""
    return subprocess.run([tool("nsenter"), "-t", str(pid), "-m", "-u", "-i", "-n", "-p",
                           "-r", "-w", *command], capture_output=True, text=True, timeout=timeout)


def wait_for_healthz(port: int, deadline_s: float) -> int:
    deadline = time.monotonic() + deadline_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
                return answer.status
        except (urllib.error.URLError, ConnectionError, OSError) as error:
            last = error
            time.sleep(0.3)
    raise AssertionError(f"/healthz did not answer within {deadline_s}s: {last}")
