"""With CI set, missing required data or dependencies fail the run instead of skipping (tests/ci_skips.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ci_skips import require_dir

TESTS = Path(__file__).resolve().parent

_INNER = '''
import pytest

def test_needs_a_module():
    pytest.importorskip("nianbao_no_such_module")

def test_needs_chromium():
    pytest.skip("no /usr/bin/chromium")

def test_optional_feature():
    pytest.skip("the narrative rules are not on this branch yet")

@pytest.mark.xfail(reason="known")
def test_known_failure():
    assert False
'''


def _inner_run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_inner.py").write_text(_INNER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "ci_skips", "-p", "no:cacheprovider",
                           str(tmp_path / "test_inner.py")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


def test_required_skips_fail_in_ci(tmp_path):
    run = _inner_run(tmp_path, "true")
    out = run.stdout
    assert run.returncode != 0, out
    assert "2 failed" in out and "1 skipped" in out and "1 xfailed" in out, out
    assert "required dependency missing" in out


@pytest.mark.slow
def test_required_skips_stay_skips_locally(tmp_path):
    run = _inner_run(tmp_path, None)
    assert run.returncode == 0, run.stdout
    assert "3 skipped" in run.stdout and "1 xfailed" in run.stdout


def test_missing_shared_fails_in_ci(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception):
        require_dir(tmp_path / "nowhere", "../shared")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_dir(tmp_path / "nowhere", "../shared")
    assert require_dir(tmp_path, "here") == tmp_path
