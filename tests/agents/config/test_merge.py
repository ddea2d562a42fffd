"""Several files, folders and flags: later values win, lists append, maps merge, flags win over files."""

from __future__ import annotations

from pathlib import Path

from agents.config import DiskThreshold, Loaded
from tests.agents.config.support import KEY, write
from tests.agents.config.support import load_args as load_with_host

BASE = 'data_dir = "/data"\n'


def load_args(argv: list[str]) -> Loaded:
    """With the cluster key as a flag, so the files may hold their own server blocks."""
    return load_with_host([f"-encrypt={KEY}", *argv])


def test_later_files_win_and_lists_append_without_duplicates(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "a.hcl",
        BASE
        + """
region = "eu"
client {
  enabled = true
  servers = ["10.0.0.1", "10.0.0.2"]
  meta    = { rack = "r1", zone = "a" }
}
""",
    )
    second = write(
        tmp_path,
        "b.hcl",
        """
region = "us"
client {
  servers = ["10.0.0.2", "10.0.0.3"]
  meta { zone = "b" }
  disk_free_threshold = "12.5%"
}
""",
    )
    config = load_args(["-config", first, "-config", second]).config
    assert config.region == "us"
    assert config.client.servers == ("10.0.0.1:4647", "10.0.0.2:4647", "10.0.0.3:4647")
    assert config.client.meta == {"rack": "r1", "zone": "b"}
    assert config.client.disk_free_threshold == DiskThreshold(percent=12.5)
    assert config.files == (first, second)


def test_a_folder_reads_only_its_hcl_files_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "conf.d"
    folder.mkdir()
    write(folder, "00-base.hcl", BASE + 'client {\n  enabled = true\n  servers = ["s1"]\n}\n')
    write(folder, "50-name.hcl", 'name = "from-50"\n')
    write(folder, "10-name.hcl", 'name = "from-10"\n')
    write(folder, ".hidden.hcl", 'name = "hidden"\n')
    write(folder, "notes.txt", "not a config file")
    config = load_args(["-config", str(folder)]).config
    assert config.name == "from-50"
    assert [Path(f).name for f in config.files] == ["00-base.hcl", "10-name.hcl", "50-name.hcl"]


def test_files_and_folders_mix_in_the_order_given(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    write(folder, "x.hcl", 'datacenter = "from-folder"\n')
    before = write(
        tmp_path,
        "before.hcl",
        BASE + 'datacenter = "before"\nclient {\n  enabled = true\n  servers = ["s"]\n}\n',
    )
    after = write(tmp_path, "after.hcl", 'datacenter = "after"\n')
    assert load_args(["-config", before, "-config", str(folder)]).config.datacenter == "from-folder"
    assert load_args(["-config", str(folder), "-config", before]).config.datacenter == "before"
    assert (
        load_args(["-config", before, "-config", str(folder), "-config", after]).config.datacenter == "after"
    )


def test_flags_win_over_files_and_list_flags_append(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "server.hcl",
        BASE
        + """
region     = "eu"
datacenter = "a"
bind_addr  = "10.0.0.5"
ports {
  rpc = 7000
}
server {
  enabled          = true
  bootstrap_expect = 5
  server_join {
    retry_join = ["10.0.0.1"]
  }
}
""",
    )
    config = load_args(
        [
            "-config",
            path,
            "-region=us",
            "-dc",
            "b",
            "-bind=127.0.0.1",
            "-rpc-port",
            "7100",
            "-http-port=7101",
            "-bootstrap-expect=3",
            "-retry-join",
            "10.0.0.2",
            "-retry-join=10.0.0.3",
            "-data-dir",
            "/flag-data",
            "-node",
            "s-1",
            "-log-level",
            "debug",
        ]
    ).config
    assert (config.region, config.datacenter, config.bind_addr, config.name) == (
        "us",
        "b",
        "127.0.0.1",
        "s-1",
    )
    assert (config.ports.rpc, config.ports.http, config.ports.serf) == (7100, 7101, 4648)
    assert config.addresses.rpc == "127.0.0.1"  # follows the bind address the flag set
    assert config.server.bootstrap_expect == 3
    assert config.server.server_join.retry_join == ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    assert config.data_dir == "/flag-data" and config.client.alloc_dir == "/flag-data/alloc"
    assert config.log_level == "DEBUG"


def test_a_flag_can_turn_a_file_setting_off(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.hcl",
        BASE + 'client {\n  enabled = true\n  servers = ["s"]\n}\nacl {\n  enabled = true\n}\n',
    )
    config = load_args(
        ["-config", path, "-acl-enabled=false", "-servers", "s2,s3", "-meta", "a=1", "-meta=b=2=3"]
    ).config
    assert config.acl.enabled is False
    assert config.client.servers == ("s:4647", "s2:4647", "s3:4647")
    assert config.client.meta == {"a": "1", "b": "2=3"}


def test_the_older_server_retry_join_spelling_joins_the_server_join_list(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.hcl",
        BASE
        + """
server {
  enabled          = true
  bootstrap_expect = 3
  retry_join       = ["10.0.0.1"]
  retry_interval   = "5s"
  server_join {
    retry_join = ["10.0.0.2"]
  }
}
""",
    )
    join = load_args(["-config", path]).config.server.server_join
    assert join.retry_join == ("10.0.0.1", "10.0.0.2") and join.retry_interval_s == 5.0


def test_null_leaves_a_setting_at_its_default(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.hcl", BASE + 'region = null\nclient {\n  enabled = true\n  servers = ["s"]\n}\n'
    )
    assert load_args(["-config", path]).config.region == "global"


def test_hcl_expressions_are_evaluated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.hcl",
        BASE
        + """
client {
  enabled = true
  servers = [for i in range(3) : "10.0.0.${i + 1}"]
  reserved {
    memory = 2 * 512
  }
}
""",
    )
    client = load_args(["-config", path]).config.client
    assert client.servers == ("10.0.0.1:4647", "10.0.0.2:4647", "10.0.0.3:4647")
    assert client.reserved.memory_mb == 1024
