"""Bad configuration: every problem at once, each with the file, line and field (or the flag) at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config import ConfigError
from agents.config.layers import COMMAND_LINE
from cluster.errors import Diagnostic, InvalidInput
from tests.agents.config.support import KEY, TempDirs, errors_of, load_args, only_error, write

CLIENT = 'data_dir = "/data"\nclient {\n  enabled = true\n  servers = ["10.0.0.1"]\n}\n'


def _file_error(tmp_path: Path, text: str, *flags: str) -> Diagnostic:
    path = write(tmp_path, "agent.hcl", text)
    error = only_error(["-config", path, f"-encrypt={KEY}", *flags])
    assert error.filename == path
    return error


def _where(error: Diagnostic) -> tuple[int, int, str]:
    return error.line, error.column, error.path


def test_a_syntax_error_names_line_and_column_and_is_the_only_report(tmp_path: Path) -> None:
    """Checks of the whole configuration would only guess at a file that cannot be read: none run."""
    error = _file_error(tmp_path, 'data_dir = "/data"\nserver {\n  enabled = \n}\n')
    assert (error.line, error.column, error.path) == (3, 13, "")
    assert error.message == "expected an expression, found newline"


def test_an_unknown_block_suggests_the_closest_name(tmp_path: Path) -> None:
    error = _file_error(tmp_path, CLIENT + "sever {\n  enabled = true\n}\n")
    assert _where(error) == (6, 1, "sever")
    assert error.message == 'unknown block "sever" in the agent configuration; did you mean "server"?'


def test_an_unknown_attribute_suggests_the_closest_name(tmp_path: Path) -> None:
    error = _file_error(
        tmp_path, CLIENT.replace("  enabled = true\n", '  enabled = true\n  node_clas = "gpu"\n')
    )
    assert _where(error) == (4, 3, "client.node_clas")
    assert error.message == 'unknown attribute "node_clas" in the client block; did you mean "node_class"?'


def test_an_unknown_name_without_a_close_match_lists_the_choices(tmp_path: Path) -> None:
    error = _file_error(tmp_path, CLIENT + "ports {\n  grpc_things = 1\n}\n")
    assert _where(error) == (7, 3, "ports.grpc_things")
    assert error.message.endswith("expected one of: http, rpc, serf")


def test_a_block_written_as_an_attribute_and_the_reverse(tmp_path: Path) -> None:
    error = _file_error(tmp_path, CLIENT + "acl = true\n")
    assert error.message == "acl is a block, not an attribute: write acl { ... }"
    error = _file_error(tmp_path, CLIENT + "region {\n}\n")
    assert error.message == "region is an attribute, not a block: write region = ..."


def test_a_repeated_block_points_at_the_first(tmp_path: Path) -> None:
    error = _file_error(tmp_path, CLIENT + "acl {\n  enabled = true\n}\nacl {\n  enabled = false\n}\n")
    assert _where(error) == (9, 1, "acl")
    assert error.message == "only one acl block is allowed here; the first is at line 6"


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('bootstrap_expect = "three"', "server.bootstrap_expect", 'expected a whole number, got "three"'),
        ("enabled = [true]", "server.enabled", "expected a bool, got a list"),
        ('heartbeat_grace = "10 seconds"', "server.heartbeat_grace", "expected a duration"),
        ('retry_join = "10.0.0.1"', "server.retry_join", "expected a list of strings"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_field(
    tmp_path: Path, line: str, field: str, message: str
) -> None:
    error = _file_error(tmp_path, CLIENT + "server {\n  " + line + "\n}\n")
    assert (error.line, error.path) == (7, field)
    assert error.message.startswith(message), error.message


def test_an_unknown_plugin_suggests_one_of_caravans_drivers(tmp_path: Path) -> None:
    error = _file_error(tmp_path, CLIENT + 'plugin "raw-exec" {\n  config {\n    enabled = true\n  }\n}\n')
    assert _where(error) == (6, 8, "plugin[raw-exec]")
    assert error.message == 'unknown plugin "raw-exec"; did you mean "raw_exec"?'


def test_an_unknown_driver_setting_names_its_path(tmp_path: Path) -> None:
    error = _file_error(
        tmp_path, CLIENT + 'plugin "docker" {\n  config {\n    gc {\n      imag = false\n    }\n  }\n}\n'
    )
    assert _where(error) == (9, 7, "plugin[docker].config.gc.imag")
    assert 'did you mean "image"?' in error.message


def test_a_server_joining_others_needs_bootstrap_expect(tmp_path: Path) -> None:
    join = '  server_join {\n    retry_join = ["10.0.0.2"]\n  }\n'
    text = 'data_dir = "/data"\nserver {\n  enabled = true\n' + join + "}\n"
    error = _file_error(tmp_path, text)
    assert _where(error) == (3, 13, "server.enabled")
    assert error.message.startswith("bootstrap_expect is required when servers join each other")


def test_bootstrap_expect_needs_server_mode(tmp_path: Path) -> None:
    error = _file_error(tmp_path, CLIENT + "server {\n  bootstrap_expect = 3\n}\n")
    assert _where(error) == (7, 22, "server.bootstrap_expect")
    assert error.message.startswith("bootstrap_expect needs server mode")


def test_conflicting_flags_dev_with_a_cluster_size() -> None:
    error = only_error(["-dev", "-bootstrap-expect=3"])
    assert (error.filename, error.path) == (COMMAND_LINE, "-bootstrap-expect")
    assert (
        error.message == "conflicts with -dev, which runs a single server: bootstrap_expect must be 1, not 3"
    )


def test_conflicting_flags_client_settings_without_client_mode() -> None:
    errors = errors_of(
        [
            "-server",
            "-bootstrap-expect=1",
            "-data-dir=/d",
            f"-encrypt={KEY}",
            "-servers=a,b",
            "-node-class=gpu",
        ]
    )
    assert [(e.path, e.message) for e in errors] == [
        ("-node-class", "-node-class is a client setting: add -client (or -dev)"),
        ("-servers", "-servers is a client setting: add -client (or -dev)"),
    ]


def test_conflicting_flags_server_settings_without_server_mode() -> None:
    error = only_error(["-client", "-servers=s1", "-data-dir=/d", f"-encrypt={KEY}", "-retry-join=s2"])
    assert (error.path, error.message) == (
        "-retry-join",
        "-retry-join is a server setting: add -server (or -dev)",
    )


@pytest.mark.parametrize(
    ("ports", "line", "field", "message"),
    [
        ("http = 0", 7, "ports.http", "port 0 is not from 1 to 65535"),
        ("rpc = 70000", 7, "ports.rpc", "port 70000 is not from 1 to 65535"),
        ("serf = 4646", 7, "ports.serf", "port 4646 is already the http port on 0.0.0.0"),
    ],
)
def test_bad_ports(tmp_path: Path, ports: str, line: int, field: str, message: str) -> None:
    error = _file_error(tmp_path, CLIENT + "ports {\n  " + ports + "\n}\n")
    assert (error.line, error.path, error.message) == (line, field, message)


def test_a_bad_port_flag_names_the_flag() -> None:
    error = only_error(["-dev", "-rpc-port=99999"])
    assert (error.filename, error.path, error.message) == (
        COMMAND_LINE,
        "-rpc-port",
        "port 99999 is not from 1 to 65535",
    )


def test_ports_may_repeat_on_different_addresses(tmp_path: Path) -> None:
    text = CLIENT + 'ports {\n  rpc = 4646\n}\naddresses {\n  rpc = "127.0.0.1"\n}\n'
    assert load_args(["-config", write(tmp_path, "a.hcl", text), f"-encrypt={KEY}"]).config.ports.rpc == 4646


@pytest.mark.parametrize(
    ("setting", "field", "message"),
    [
        ('bind_addr = "{{ GetPrivateIP }}"', "bind_addr", "go-sockaddr templates are not supported"),
        ('bind_addr = "my-host"', "bind_addr", "'my-host' is not an IP address"),
        ('log_level = "LOUD"', "log_level", "'LOUD' is not a log level"),
        ('region = "eu west"', "region", "'eu west' is not a region name"),
    ],
)
def test_bad_top_level_values(tmp_path: Path, setting: str, field: str, message: str) -> None:
    error = _file_error(tmp_path, CLIENT + setting + "\n")
    assert (error.line, error.path) == (6, field)
    assert error.message.startswith(message), error.message


@pytest.mark.parametrize(
    ("setting", "field", "message"),
    [
        ('servers = ["10.0.0.1:http"]', "client.servers", "'10.0.0.1:http': port 'http' is not a number"),
        ("reserved = 3", "client.reserved", "reserved is a block, not an attribute"),
        ('node_pool = "all"', "client.node_pool", "'all' is not a node pool a client can join"),
        ('max_kill_timeout = "0s"', "client.max_kill_timeout", "must be a positive duration"),
        ('disk_free_threshold = "lots"', "client.disk_free_threshold", "expected a percentage such as"),
    ],
)
def test_bad_client_values(tmp_path: Path, setting: str, field: str, message: str) -> None:
    text = 'data_dir = "/data"\nclient {\n  enabled = true\n  ' + setting + "\n}\n"
    error = _file_error(tmp_path, text, "-servers=10.0.0.9")
    assert (error.line, error.path) == (4, field)
    assert error.message.startswith(message), error.message


def test_bad_reserved_ports(tmp_path: Path) -> None:
    error = _file_error(
        tmp_path, CLIENT.replace("}\n", '  reserved {\n    reserved_ports = "22,80-70"\n  }\n}\n')
    )
    assert (error.line, error.path) == (6, "client.reserved.reserved_ports")
    assert error.message == "port range '80-70' is not within 1-65535 (low to high)"


def test_a_relative_data_dir() -> None:
    error = only_error(["-dev", "-data-dir=relative/dir"])
    assert (error.path, error.message) == ("-data-dir", "must be an absolute path, got 'relative/dir'")


def test_a_client_without_servers(tmp_path: Path) -> None:
    error = _file_error(tmp_path, 'data_dir = "/data"\nclient {\n  enabled = true\n}\n')
    assert _where(error) == (3, 13, "client.enabled")
    assert error.message.startswith("a client needs servers to register with")


def test_neither_server_nor_client(tmp_path: Path) -> None:
    error = only_error(["-config", write(tmp_path, "a.hcl", 'data_dir = "/data"\n'), f"-encrypt={KEY}"])
    assert (error.filename, error.line, error.path) == ("", 0, "")
    assert error.message.startswith("neither server nor client is enabled: use -server, -client or -dev")


def test_a_bad_cluster_key_is_reported_without_showing_it() -> None:
    short = "c2VjcmV0LWtleQ=="  # "secret-key", 10 bytes
    error = only_error(["-dev", f"-encrypt={short}"])
    assert (error.path, error.message) == (
        "-encrypt",
        "the cluster key is 10 bytes; it must be 16, 24 or 32 bytes (make one with: openssl rand -base64 32)",
    )
    assert short not in str(error)
    garbage = only_error(["-dev", "-encrypt=not base64!"])
    assert garbage.message == "the cluster key is not valid base64"
    assert "not base64!" not in str(garbage)


def test_rpc_without_a_key_or_tls(tmp_path: Path) -> None:
    path = write(tmp_path, "a.hcl", CLIENT)
    error = only_error(["-config", path])
    assert (error.path, error.line) == ("server.encrypt", 0)
    assert error.message.startswith("RPC needs a cluster key")


def test_tls_without_its_files(tmp_path: Path) -> None:
    text = CLIENT + f'tls {{\n  rpc = true\n  ca_file = "{tmp_path}/ca.pem"\n}}\n'
    errors = errors_of(["-config", write(tmp_path, "a.hcl", text)])
    assert [(e.line, e.path, e.message) for e in errors] == [
        (7, "tls.rpc", "TLS is on but tls.cert_file is not set"),
        (7, "tls.rpc", "TLS is on but tls.key_file is not set"),
        (8, "tls.ca_file", f"{tmp_path}/ca.pem: no such file"),
    ]


def test_every_problem_of_every_file_and_flag_comes_at_once_in_file_order(tmp_path: Path) -> None:
    a = write(tmp_path, "a.hcl", 'data_dir = "/data"\nregoin = "eu"\nserver {\n  enabled = "yes please"\n}\n')
    b = write(tmp_path, "b.hcl", 'client {\n  enabled = true\n  servers = ["s"]\n  meta = 3\n}\n')
    with pytest.raises(ConfigError) as info:
        load_args(["-config", a, "-config", b, f"-encrypt={KEY}", "-dc=", "-nodes=x"])
    error = info.value
    assert isinstance(error, InvalidInput)
    assert [(d.filename, d.line, d.path) for d in error.diagnostics] == [
        (a, 2, "regoin"),
        (a, 4, "server.enabled"),
        (b, 4, "client.meta"),
        (COMMAND_LINE, 0, "-dc"),
        (COMMAND_LINE, 0, "-nodes"),
    ]
    assert (
        str(error).splitlines()[0] == f"{a}: line 2, column 1: regoin: "
        'unknown attribute "regoin" in the agent configuration; did you mean "region"?'
    )


def test_ignored_nomad_settings_warn_but_load(tmp_path: Path) -> None:
    text = CLIENT + "disable_update_check = true\nui {\n  enabled = true\n}\n"
    loaded = load_args(["-config", write(tmp_path, "a.hcl", text), f"-encrypt={KEY}"])
    assert [(w.line, w.path, w.message) for w in loaded.warnings] == [
        (6, "disable_update_check", "ignored: Caravan never checks for updates"),
        (7, "ui", "ignored: the web application serves the UI"),
    ]


def test_a_missing_config_path_and_a_json_file(tmp_path: Path) -> None:
    json_file = write(tmp_path, "agent.json", "{}")
    errors = errors_of(["-dev", "-config", str(tmp_path / "nope.hcl"), "-config", json_file])
    assert [(e.filename, e.path, e.message) for e in errors] == [
        (json_file, "", "JSON agent configuration is not supported; write it in HCL"),
        (COMMAND_LINE, "-config", f"{tmp_path}/nope.hcl: no such file or folder"),
    ]


def test_a_bad_dev_configuration_creates_no_temporary_folder(tmp_path: Path) -> None:
    temp = TempDirs(tmp_path)
    errors_of(["-dev", "-log-level=LOUD"], temp)
    assert temp.made == []
