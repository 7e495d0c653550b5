"""bootstrap.py picks the locked uv wheel for the machine and uses it only when its sha256 matches the
lock (the download itself is exercised by CI, which starts with `python3 bootstrap.py`)."""

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import pytest

import bootstrap

GLIBC_236 = ("glibc", "2.36")
UV_WHEELS = [
    "uv-0.13.8-py3-none-macosx_11_0_arm64.whl",
    "uv-0.13.8-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
    "uv-0.13.8-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "uv-0.13.8-py3-none-musllinux_1_1_x86_64.whl",
    "uv-0.13.8-py3-none-win_amd64.whl",
]


@pytest.mark.parametrize(
    ("system", "machine", "libc", "chosen"),
    [
        ("linux", "x86_64", GLIBC_236, UV_WHEELS[2]),
        ("linux", "aarch64", GLIBC_236, UV_WHEELS[1]),
        ("linux", "x86_64", ("", ""), UV_WHEELS[3]),  # musl (Alpine)
        ("darwin", "arm64", ("", ""), UV_WHEELS[0]),
    ],
)
def test_the_wheel_for_the_machine(system: str, machine: str, libc: tuple[str, str], chosen: str) -> None:
    assert [w for w in UV_WHEELS if bootstrap.fits_this_machine(w, system, machine, libc)] == [chosen]


def test_a_glibc_older_than_the_wheel_needs_is_no_fit() -> None:
    wheel = "uv-0.13.8-py3-none-manylinux_2_28_aarch64.whl"
    assert bootstrap.fits_this_machine(wheel, "linux", "aarch64", ("glibc", "2.28"))
    assert not bootstrap.fits_this_machine(wheel, "linux", "aarch64", ("glibc", "2.17"))


def test_the_locked_uv_has_a_wheel_for_this_machine() -> None:
    import platform
    import sys
    import tomllib

    lock = tomllib.loads((Path(bootstrap.__file__).parent / "uv.lock").read_text())
    (uv,) = [p for p in lock["package"] if p["name"] == "uv"]
    names = [w["url"].rsplit("/", 1)[1] for w in uv["wheels"]]
    machine, libc = platform.machine(), platform.libc_ver()
    assert any(bootstrap.fits_this_machine(n, sys.platform, machine, libc) for n in names)


def _fake_uv_wheel(folder: Path, version: str) -> tuple[str, str]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"uv-{version}.data/scripts/uv", "#!/bin/sh\necho uv 9.9.9 fake\n")
    data = buffer.getvalue()
    name = "uv-9.9.9-py3-none-" + "".join(
        f"manylinux_2_17_{m}.macosx_11_0_{m}." for m in ("x86_64", "aarch64", "arm64")
    ).rstrip(".")
    path = folder / f"{name}.whl"
    path.write_bytes(data)
    return path.as_uri(), "sha256:" + hashlib.sha256(data).hexdigest()


def test_the_wheel_s_uv_is_extracted_when_its_hash_matches(tmp_path: Path) -> None:
    url, digest = _fake_uv_wheel(tmp_path, "9.9.9")
    uv = bootstrap.fetch_uv({"version": "9.9.9", "wheels": [{"url": url, "hash": digest}]}, tmp_path)
    assert subprocess.run([uv, "--version"], capture_output=True, text=True).stdout == "uv 9.9.9 fake\n"
    assert bootstrap.installed_version(uv) == "9.9.9"


def test_a_wheel_whose_hash_differs_from_the_lock_is_refused(tmp_path: Path) -> None:
    url, _ = _fake_uv_wheel(tmp_path, "9.9.9")
    with pytest.raises(SystemExit, match="but uv.lock says sha256:0000"):
        bootstrap.fetch_uv(
            {"version": "9.9.9", "wheels": [{"url": url, "hash": "sha256:" + "0" * 64}]}, tmp_path
        )
    assert not (tmp_path / "uv").exists()
