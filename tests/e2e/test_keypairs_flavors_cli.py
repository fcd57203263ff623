"""Keypairs and flavors with the real clients against `sriovstack all-in-one` (issue 12):
`openstack keypair ...`, `server create --key-name` (an unknown key is a 400), `flavor
create/set/unset/delete` with nova's extra spec checks, a flavor asking for a VF through
`pci_passthrough:alias` (the all-in-one's `[pci] alias` of its 82576) whose VF the host ledger
shows claimed and then released, and the legacy `nova boot --key-name`."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.e2e.conftest import SRIOVSTACK, client_env
from tests.e2e.test_lifecycle_cli import _ledger
from tests.polling import until
from tests.e2e.test_walkthrough_cli import aio, osc

pytestmark = pytest.mark.e2e
__all__ = ["aio"]  # the all-in-one fixture, shared with the walkthrough


def _fails(venv: Path, state: Path, *args: str) -> str:
    """Run an `openstack` command that must fail; its stderr."""
    env = client_env(state / "clouds.yaml") | {"OS_CLOUD": "sriovstack"}
    done = subprocess.run([str(venv / "bin" / "openstack"), *args], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode != 0, f"openstack {' '.join(args)} succeeded: {done.stdout}"
    return done.stderr


def _text(venv: Path, state: Path, *args: str) -> str:
    """The plain output of an `openstack` command that must succeed."""
    env = client_env(state / "clouds.yaml") | {"OS_CLOUD": "sriovstack"}
    done = subprocess.run([str(venv / "bin" / "openstack"), *args], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr}"
    return done.stdout


def _fingerprint(key: Any) -> str:
    """nova's fingerprint of a public key: the MD5 of its OpenSSH blob, colon separated."""
    line = key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()
    digest = hashlib.md5(base64.b64decode(line.split()[1]), usedforsecurity=False).digest()
    return ":".join(f"{b:02x}" for b in digest)


def _server_vfs(venv: Path, state: Path, host: str, server_id: str) -> list[str]:
    return [a for a, owner in _ledger(venv, state, host).items() if owner == server_id]


def test_keypairs_and_key_name_with_the_openstack_cli(osc_venv: Path, aio: Path,
                                                      tmp_path: Path) -> None:
    def cli(*args: str) -> Any:
        return osc(osc_venv, aio, *args)

    private = tmp_path / "k1.pem"
    made = cli("keypair", "create", "--private-key", str(private), "k1")
    assert made["name"] == "k1" and made["type"] == "ssh"
    # OSC 10.5 makes the key itself (OpenSSH format) and imports its public half; the legacy
    # `nova keypair-add` below has the API generate one.
    key = serialization.load_ssh_private_key(private.read_bytes(), None)
    assert cli("keypair", "show", "k1")["fingerprint"] == _fingerprint(key.public_key())
    public = tmp_path / "laptop.pub"
    public.write_text(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode())
    imported = cli("keypair", "create", "--public-key", str(public), "laptop")
    assert imported["fingerprint"].count(":") == 15
    assert {k["Name"] for k in cli("keypair", "list")} == {"k1", "laptop"}
    shown = cli("keypair", "show", "laptop")
    assert shown["fingerprint"] == imported["fingerprint"] and shown["type"] == "ssh"
    assert _text(osc_venv, aio, "keypair", "show", "--public-key", "laptop").strip() == \
        public.read_text().strip()
    assert "already exists" in _fails(osc_venv, aio, "keypair", "create", "k1")

    cli("network", "create", "keys", "--provider-network-type", "vlan",
        "--provider-physical-network", "physnet1", "--provider-segment", "21")
    cli("subnet", "create", "keys-subnet", "--network", "keys", "--subnet-range",
        "10.21.0.0/24")
    port = cli("port", "create", "--network", "keys", "--vnic-type", "direct", "keys-vf")
    server = cli("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic",
                 f"port-id={port['id']}", "--key-name", "laptop", "--wait", "keyed")
    assert server["status"] == "ACTIVE" and server["key_name"] == "laptop"
    if (aio / "hosts").is_dir() and "netns data plane on" in (aio / "aio.log").read_text():
        # The emulated guest has the key where sshd's AuthorizedKeysFile finds it.
        seen = subprocess.run([str(SRIOVSTACK), "guest", "exec", "--state-dir", str(aio),
                               "keyed", "--", "cat", "/etc/ssh/authorized_keys/root"],
                              capture_output=True, text=True, timeout=120)
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout.strip() == public.read_text().strip()
    refused = _fails(osc_venv, aio, "server", "create", "--flavor", "m1.tiny", "--image",
                     "cirros", "--nic", "none", "--key-name", "nope", "unkeyed")
    assert "Invalid key_name provided." in refused and "400" in refused
    osc(osc_venv, aio, "server", "delete", "--wait", "keyed", json_out=False)
    osc(osc_venv, aio, "port", "delete", "keys-vf", json_out=False)

    osc(osc_venv, aio, "keypair", "delete", "k1", json_out=False)
    assert {k["Name"] for k in cli("keypair", "list")} == {"laptop"}
    assert "No Keypair found for k1" in _fails(osc_venv, aio, "keypair", "show", "k1")


def test_flavors_with_extra_specs_and_a_pci_alias_vf(osc_venv: Path, aio: Path) -> None:
    def cli(*args: str) -> Any:
        return osc(osc_venv, aio, *args)

    flavor = cli("flavor", "create", "--ram", "512", "--disk", "1", "--vcpus", "1",
                 "--property", "pci_passthrough:alias=82576-vf:1", "sriov.vf")
    assert flavor["properties"] == {"pci_passthrough:alias": "82576-vf:1"}
    assert "already exists" in _fails(osc_venv, aio, "flavor", "create", "--ram", "512",
                                      "--disk", "1", "--vcpus", "1", "sriov.vf")
    osc(osc_venv, aio, "flavor", "set", "--property", "hw:pci_numa_affinity_policy=preferred",
        "--property", "hw:numa_nodes=1", "sriov.vf", json_out=False)
    bad = _fails(osc_venv, aio, "flavor", "set", "--property", "hw:cpu_policy=bogus",
                 "sriov.vf")
    assert "hw:cpu_policy" in bad and "400" in bad
    osc(osc_venv, aio, "flavor", "unset", "--property", "hw:numa_nodes", "sriov.vf",
        json_out=False)
    props = cli("flavor", "show", "sriov.vf")["properties"]
    assert props == {"pci_passthrough:alias": "82576-vf:1",
                     "hw:pci_numa_affinity_policy": "preferred"}

    server = cli("server", "create", "--flavor", "sriov.vf", "--image", "cirros", "--nic",
                 "none", "--wait", "aliased")
    assert server["status"] == "ACTIVE"
    host = cli("server", "show", "aliased")["OS-EXT-SRV-ATTR:host"]
    [vf] = _server_vfs(osc_venv, aio, host, server["id"])
    osc(osc_venv, aio, "server", "delete", "--wait", "aliased", json_out=False)
    until(lambda: _server_vfs(osc_venv, aio, host, server["id"]), lambda held: not held,
          "the alias VF released")
    assert _ledger(osc_venv, aio, host)[vf] is None

    cli("flavor", "create", "--ram", "512", "--disk", "1", "--vcpus", "1", "--property",
        "pci_passthrough:alias=gpu:1", "sriov.gpu")
    undefined = _fails(osc_venv, aio, "server", "create", "--flavor", "sriov.gpu", "--image",
                       "cirros", "--nic", "none", "gpu")
    assert "PCI alias gpu is not defined" in undefined
    for name in ("sriov.vf", "sriov.gpu"):
        osc(osc_venv, aio, "flavor", "delete", name, json_out=False)
    assert not {"sriov.vf", "sriov.gpu"} & {f["Name"] for f in cli("flavor", "list")}


def test_nova_boot_with_a_key_name(osc_venv: Path, aio: Path) -> None:
    cloud = yaml.safe_load((aio / "clouds.yaml").read_text())["clouds"]["sriovstack"]
    auth = cloud["auth"]
    env = client_env(aio / "clouds.yaml") | {
        "OS_AUTH_URL": auth["auth_url"], "OS_USERNAME": auth["username"],
        "OS_PASSWORD": auth["password"], "OS_PROJECT_NAME": auth["project_name"],
        "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3"}

    def nova(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(osc_venv / "bin" / "nova"), *args], env=env,
                              capture_output=True, text=True, timeout=180, check=False)

    made = nova("keypair-add", "legacy")
    assert made.returncode == 0 and "PRIVATE KEY" in made.stdout, made.stderr
    assert "legacy" in nova("keypair-list").stdout
    booted = nova("boot", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                  "--key-name", "legacy", "--poll", "legacyvm")
    assert booted.returncode == 0, booted.stderr
    shown = nova("show", "legacyvm")
    assert "legacy" in shown.stdout and "ACTIVE" in shown.stdout
    refused = nova("boot", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "none",
                   "--key-name", "missing", "nokey")
    assert refused.returncode != 0 and "Invalid key_name provided." in refused.stderr
    assert nova("delete", "legacyvm").returncode == 0
    assert nova("keypair-delete", "legacy").returncode == 0
