"""The build's own promises: a missing libopus is named with the package to install."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_missing_libopus_names_the_package_to_install(tmp_path):
    env = dict(os.environ, PKG_CONFIG_LIBDIR=str(tmp_path / "empty"), PKG_CONFIG_PATH="")
    result = subprocess.run(["cmake", "-S", str(ROOT), "-B", str(tmp_path / "build")],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "offhook needs libopus and could not find it with pkg-config" in result.stderr
    assert "apt-get install libopus-dev" in result.stderr
    assert "brew install opus" in result.stderr
