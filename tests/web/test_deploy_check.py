"""`manage.py check --deploy` with production settings: no warnings, as the issue asks; and the check is real
(turning HTTPS off brings its warnings back)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def deploy_check(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "CARAVAN_SECRET_KEY": secrets.token_urlsafe(60),
           "CARAVAN_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "webui.settings",
           "CARAVAN_ALLOWED_HOSTS": "caravan.example.com", **extra}
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    result = deploy_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_https_the_check_complains(tmp_path: Path) -> None:
    result = deploy_check(tmp_path, CARAVAN_HTTPS="0")
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr + result.stdout
