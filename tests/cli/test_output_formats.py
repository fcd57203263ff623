"""`-f table|json|yaml` and `-c COLUMN` on every sriovstack list/show command, as the openstack
CLI has them: scripts and monitoring read the VF map without scraping a table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.cli.parser_walk import leaves

from sriovstack.cli.cloud.output import Format, View, print_list, print_show
from sriovstack.cli.main import build_parser, main
from sriovstack.errors import Invalid
from sriovstack.mac import MacAddress


_LISTING = {"list", "show", "devices"}
_LISTING_COMMANDS = [cmd for cmd, _ in leaves(build_parser()) if cmd[-1] in _LISTING] + [
    ("host", "check")]


@pytest.mark.parametrize("command", _LISTING_COMMANDS, ids=" ".join)
def test_every_list_and_show_command_takes_f_and_c(command: tuple[str, ...]) -> None:
    parser = dict(leaves(build_parser()))[command]
    options = {o: a for a in parser._actions for o in a.option_strings}
    assert options["-f"].choices == ["table", "json", "yaml"]
    assert options["-c"] is options["--column"]


ROWS = [("0000:0b:10.0", "VF 0", MacAddress.parse("fa:16:3e:00:00:01"), 15, None, ["a", "b"])]
COLUMNS = ("Address", "Kind", "MAC", "VLAN", "Server", "Tags")


def test_json_keeps_types_and_columns(capsys: pytest.CaptureFixture[str]) -> None:
    print_list("t", COLUMNS, ROWS, View(Format.JSON))
    assert json.loads(capsys.readouterr().out) == [{
        "Address": "0000:0b:10.0", "Kind": "VF 0", "MAC": "fa:16:3e:00:00:01", "VLAN": 15,
        "Server": None, "Tags": ["a", "b"]}]
    print_list("t", COLUMNS, ROWS, View(Format.YAML, ("mac", "VLAN")))
    assert yaml.safe_load(capsys.readouterr().out) == [{"MAC": "fa:16:3e:00:00:01",
                                                         "VLAN": 15}]
    print_show("t", [("id", "x"), ("status", "ACTIVE")], View(Format.JSON, ("status",)))
    assert json.loads(capsys.readouterr().out) == {"status": "ACTIVE"}


def test_a_table_with_columns_keeps_only_them(capsys: pytest.CaptureFixture[str]) -> None:
    print_list("t", COLUMNS, ROWS, View(Format.TABLE, ("VLAN",)))
    out = capsys.readouterr().out
    assert "VLAN" in out and "15" in out and "Address" not in out


def test_an_unknown_column_names_the_columns_there_are() -> None:
    with pytest.raises(Invalid, match="-c 'Colour': no such column") as caught:
        print_list("t", COLUMNS, ROWS, View(Format.JSON, ("Colour",)))
    assert caught.value.fix == f"use one of: {', '.join(COLUMNS)}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_host_devices_and_check_as_json_and_yaml(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path)
    assert main(["host", "simulate", "--root", root]) == 0
    assert main(["host", "set-vfs", "enp11s0f0", "2", "--root", root]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "host", "devices", "--root", root, "-f", "json")
    devices = json.loads(out)
    assert code == 0 and [d["kind"] for d in devices] == ["PF", "VF 0", "VF 1", "PF"]
    assert devices[1] == {"address": "0000:0b:10.0", "kind": "VF 0", "netdev": "enp11s0f0v0",
                          "driver": "igbvf", "numa": 0, "iommu group": 18}
    code, out, _ = run(capsys, "host", "devices", "--root", root, "-c", "address", "-c", "kind")
    assert code == 0 and "0000:0b:10.0" in out and "netdev" not in out and "lspci" not in out
    code, out, _ = run(capsys, "host", "check", "--root", root, "-f", "yaml", "-c", "check",
                       "-c", "verdict")
    items = yaml.safe_load(out)
    assert {"check": "IOMMU active", "verdict": "PASS"} in items
    assert code == (1 if any(i["verdict"] == "FAIL" for i in items) else 0)
    code, out, err = run(capsys, "host", "devices", "--root", root, "-c", "colour")
    assert code == 2 and out == "" and "no such column" in err


@pytest.mark.slow
def test_the_client_commands_as_json_and_yaml(clouds_yaml: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
    monkeypatch.setenv("OS_CLOUD", "sriovstack")
    code, out, _ = run(capsys, "network", "create", "web", "--provider-network-type", "vlan",
                       "--provider-physical-network", "physnet1", "--provider-segment", "15",
                       "-f", "json")
    assert code == 0 and json.loads(out)["provider:segmentation_id"] == 15
    assert run(capsys, "subnet", "create", "s", "--network", "web", "--subnet-range",
               "10.0.0.0/24")[0] == 0
    code, out, _ = run(capsys, "port", "create", "sr-iov", "--network", "web", "--vnic-type",
                       "direct", "-f", "yaml", "-c", "id", "-c", "mac_address")
    port = yaml.safe_load(out)
    assert code == 0 and set(port) == {"id", "mac_address"}
    code, out, _ = run(capsys, "server", "create", "vm", "--flavor", "m1.tiny", "--image",
                       "cirros", "--nic", "port-id=sr-iov", "--wait", "-f", "json", "-c",
                       "status", "-c", "host")
    server = json.loads(out)
    assert code == 0 and server["status"] == "ACTIVE", out
    code, out, _ = run(capsys, "host", "show", server["host"], "-f", "json")
    vf_map = json.loads(out)
    mine = [d for d in vf_map if d["Port"] == port["id"]]
    assert code == 0 and len(mine) == 1 and mine[0]["Server"] == "vm"
    assert mine[0]["Kind"] == "VF" and mine[0]["VLAN"] in (15, 0)  # the agent may lag
    code, out, _ = run(capsys, "host", "list", "-f", "yaml")
    hosts = yaml.safe_load(out)
    assert code == 0 and {h["Host"] for h in hosts} == {"compute0", "compute1"}
    assert sum(h["VFs used"] for h in hosts) == 1
    for argv in (("agent", "list"), ("network", "list"), ("subnet", "list"), ("port", "list"),
                 ("server", "list")):
        code, out, _ = run(capsys, *argv, "-f", "json", "-c", "ID")
        assert code == 0 and all(set(row) == {"ID"} for row in json.loads(out)), argv
    for argv in (("network", "show", "web"), ("port", "show", "sr-iov"), ("server", "show",
                                                                          "vm")):
        code, out, _ = run(capsys, *argv, "-f", "yaml", "-c", "id", "-c", "status")
        assert code == 0 and set(yaml.safe_load(out)) == {"id", "status"}, argv
