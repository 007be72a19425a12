"""Throwaway virtual environments for tests that install distributions for real."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from pysoa.plugins import BLOCK_ENV_VAR

ROOT = Path(__file__).resolve().parents[3]


def clean_env() -> dict[str, str]:
    """The test process's environment without what would change which plugins a child sees."""
    return {key: value for key, value in os.environ.items() if key not in (BLOCK_ENV_VAR, "PYTHONPATH", "VIRTUAL_ENV")}


def run(*command: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command; fail with its output if it fails."""
    result = subprocess.run(
        [str(part) for part in command],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def create_venv(path: Path, *, see_dev_packages: bool) -> Path:
    """Create an empty virtual environment (no pip) and return its python.

    With ``see_dev_packages`` the new environment also sees everything installed in the test's
    own environment (soa-core, pluggy, pip, hatchling, ...) through a ``.pth`` file, below its own
    site-packages; what gets installed into the new environment stays there and is removed with it.
    """
    run(sys.executable, "-m", "venv", "--without-pip", path)
    python = path / "bin" / "python"
    if see_dev_packages:
        purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
        # ``import`` lines of a .pth file run at start-up; addsitedir also processes the .pth files
        # there, which is how the development environment's editable installs resolve.
        dev_purelib = sysconfig.get_paths()["purelib"]
        (purelib / "_soa_test_dev_packages.pth").write_text(f"import site; site.addsitedir({dev_purelib!r})\n")
    return python
