"""Sets up taskchat with nothing but python3 (3.11, 3.12 or 3.13), standard library only.

It fetches the uv that uv.lock pins (the wheel for this machine, checked against the lock's sha256) and
runs `uv sync --frozen` with this Python: that creates `.venv`, installs the locked dependencies and uv
itself into it. Nothing is installed into the system Python (PEP 668), and no pip or ensurepip is needed.
Run it again at any time: with `.venv/bin/uv` at the locked version it only syncs."""

from __future__ import annotations

import hashlib
import io
import platform
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SUPPORTED = ((3, 11), (3, 12), (3, 13))
# The glibc versions that the legacy manylinux tags stand for (PEP 600).
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def fits_this_machine(wheel_name: str, system: str, machine: str, libc: tuple[str, str]) -> bool:
    """Whether a `py3-none-PLATFORM` wheel runs here (`system` and `machine` as Python names them)."""
    machine = machine.lower()
    for tag in wheel_name.removesuffix(".whl").split("-")[4].split("."):
        if system == "darwin":
            arch = "arm64" if machine in ("arm64", "aarch64") else "x86_64"
            if tag.startswith("macosx_") and tag.endswith((f"_{arch}", "_universal2")):
                return True
        elif system.startswith("linux"):
            arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
            if not tag.endswith(f"_{arch}"):
                continue
            policy = tag.removesuffix(f"_{arch}")
            if libc[0] == "glibc":
                if policy in LEGACY_MANYLINUX:
                    needed = LEGACY_MANYLINUX[policy]
                elif policy.startswith("manylinux_"):
                    needed = tuple(int(part) for part in policy.split("_")[1:3])
                else:
                    continue
                if needed <= tuple(int(part) for part in libc[1].split(".")[:2]):
                    return True
            elif policy.startswith("musllinux_"):
                return True
    return False


def fetch_uv(package: dict, folder: Path) -> Path:
    """The `uv` binary of the locked wheel for this machine, written into folder."""
    libc = platform.libc_ver()
    fitting = [
        w
        for w in package["wheels"]
        if fits_this_machine(w["url"].rsplit("/", 1)[1], sys.platform, platform.machine(), libc)
    ]
    if not fitting:
        sys.exit(
            f"bootstrap: uv.lock has no uv wheel for {sys.platform} {platform.machine()}; install uv "
            f"{package['version']} yourself and run `uv sync --frozen`"
        )
    wheel = fitting[0]
    print(f"bootstrap: fetching uv {package['version']} ({wheel['url'].rsplit('/', 1)[1]})", flush=True)
    try:
        with urllib.request.urlopen(wheel["url"], timeout=120) as response:
            data = response.read()
    except OSError as exc:
        sys.exit(f"bootstrap: could not download {wheel['url']}: {exc}")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if digest != wheel["hash"]:
        sys.exit(f"bootstrap: {wheel['url']} has {digest}, but uv.lock says {wheel['hash']}; not using it")
    binary = folder / "uv"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        binary.write_bytes(archive.read(f"uv-{package['version']}.data/scripts/uv"))
    binary.chmod(0o755)
    return binary


def installed_version(uv: Path) -> str | None:
    try:
        output = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return output.split()[1]  # "uv 0.13.8 (...)"


def sync(uv: Path) -> None:
    # With this Python, explicitly: uv recreates a .venv that another interpreter made.
    done = subprocess.run([uv, "sync", "--frozen", "--python", sys.executable], cwd=ROOT)
    if done.returncode:
        sys.exit(done.returncode)


def main() -> None:
    if sys.version_info[:2] not in SUPPORTED:
        sys.exit(f"taskchat needs Python 3.11, 3.12 or 3.13; {sys.executable} is {platform.python_version()}")
    if sys.platform == "win32":
        sys.exit("bootstrap: on Windows, install uv (it is in uv.lock) and run `uv sync --frozen`")
    import tomllib

    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (package,) = [p for p in lock["package"] if p["name"] == "uv"]
    uv = ROOT / ".venv" / "bin" / "uv"
    if installed_version(uv) == package["version"]:
        sync(uv)
        return
    with tempfile.TemporaryDirectory() as folder:
        # This copy installs uv into .venv too (the dev group pins it), and is then thrown away.
        sync(fetch_uv(package, Path(folder)))


if __name__ == "__main__":
    main()
