"""``caravan agent``: a bad configuration is reported with its file, line and field, and nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from tests.agents.server.support import KEY_B64


def test_bad_configuration_prints_positioned_problems_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "server.hcl"
    config.write_text(f'data_dir = "{tmp_path}"\nserver {{\n  enabled = true\n  encrypt = "{KEY_B64}"\n'
                      '  bootstrap_expect = "three"\n}\nports {\n  rpc = 70000\n}\n')
    assert main(["agent", "-server", "-config", str(config), "-bogus"]) == 1
    err = capsys.readouterr().err
    assert f"{config}: line 5" in err and "bootstrap_expect" in err
    assert f"{config}: line 8" in err and "ports.rpc" in err
    assert "-bogus" in err


def test_an_agent_with_no_role_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agent.hcl"
    config.write_text(f'data_dir = "{tmp_path}"\nserver {{ enabled = false }}\nclient {{ enabled = false }}\n')
    code = main(["agent", "-config", str(config), "-encrypt", KEY_B64])
    assert code == 1
    assert "neither server nor client is enabled" in capsys.readouterr().err
