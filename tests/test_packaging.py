"""A wheel built from the source tree installs into a clean venv and runs without Cython."""
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run(*cmd: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_installs_and_runs_without_cython(tmp_path):
    wheels = tmp_path / "wheels"
    # No build isolation: the build requirements are already in the test venv.
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--disable-pip-version-check", "-q", "-w", wheels, ROOT)
    (wheel,) = wheels.glob("offhook-*.whl")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(python, "-m", "pip", "install", "--disable-pip-version-check", "-q", wheel)

    script = (
        "import importlib.util, numpy as np, offhook, offhook.engine as eng\n"
        "assert importlib.util.find_spec('Cython') is None, 'Cython must not be needed'\n"
        "c = eng.codec('PCMA')\n"
        "print(offhook.__version__, c.decode(c.encode(np.array([1000, -1000], np.int16))).tolist())\n"
    )
    out = run(python, "-c", script, cwd=tmp_path)  # not the source tree: the installed package
    assert out.split() == [offhook_version(), "[1008,", "-1008]"]
    assert run(env_dir / "bin" / "offhook", "--version").strip() == f"offhook {offhook_version()}"


def offhook_version() -> str:
    import offhook
    return offhook.__version__
