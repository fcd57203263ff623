"""clouds.yaml: write the all-in-one's clouds, and find the cloud a client command should use.

The lookup follows openstacksdk: ``--os-cloud`` or ``OS_CLOUD`` names the cloud; the file is
``OS_CLIENT_CONFIG_FILE``, else ``./clouds.yaml``, ``~/.config/openstack/clouds.yaml``,
``/etc/openstack/clouds.yaml`` (first that exists).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sriovstack.errors import ConfigError

__all__ = ["Cloud", "write_clouds_yaml", "find_cloud", "clouds_yaml_path"]

_SEARCH = (Path("clouds.yaml"), Path.home() / ".config/openstack/clouds.yaml",
           Path("/etc/openstack/clouds.yaml"))


@dataclass(frozen=True, slots=True)
class Cloud:
    """One named cloud: password auth against keystone v3 with a project scope."""

    name: str
    auth_url: str
    username: str
    password: str
    project_name: str
    user_domain: str = "Default"
    project_domain: str = "Default"
    region: str = "RegionOne"

    def to_yaml(self) -> dict[str, Any]:
        return {"auth_type": "password",
                "auth": {"auth_url": self.auth_url, "username": self.username,
                         "password": self.password, "project_name": self.project_name,
                         "user_domain_name": self.user_domain,
                         "project_domain_name": self.project_domain},
                "region_name": self.region, "identity_api_version": 3, "interface": "public"}


def write_clouds_yaml(path: Path, clouds: Sequence[Cloud]) -> None:
    """Write ``clouds`` to ``path`` (mode 0600: it holds passwords), replacing the file."""
    body = {"clouds": {c.name: c.to_yaml() for c in clouds}}
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(body, fh, sort_keys=False)
    os.replace(tmp, path)


def clouds_yaml_path(env: Mapping[str, str]) -> Path:
    """The clouds.yaml to read; ConfigError when none exists."""
    given = env.get("OS_CLIENT_CONFIG_FILE")
    if given:
        if not Path(given).is_file():
            raise ConfigError(f"{given} does not exist", option="OS_CLIENT_CONFIG_FILE",
                              fix="point it at the clouds.yaml that `sriovstack all-in-one` "
                                  "wrote in its state directory")
        return Path(given)
    for candidate in _SEARCH:
        if candidate.is_file():
            return candidate
    raise ConfigError("no clouds.yaml found (looked in ./clouds.yaml, "
                      "~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml)",
                      option="OS_CLIENT_CONFIG_FILE",
                      fix="set OS_CLIENT_CONFIG_FILE=<state dir>/clouds.yaml")


def find_cloud(name: str | None, env: Mapping[str, str]) -> Cloud:
    """The cloud called ``name`` (else ``OS_CLOUD``, else the only one in the file)."""
    path = clouds_yaml_path(env)
    clouds = _read(path)
    wanted = name or env.get("OS_CLOUD")
    if wanted is None:
        if len(clouds) != 1:
            raise ConfigError(f"{len(clouds)} clouds in the file and none chosen",
                              file=str(path), option="--os-cloud",
                              fix=f"pass --os-cloud or set OS_CLOUD to one of: "
                                  f"{', '.join(sorted(clouds))}")
        wanted = next(iter(clouds))
    if wanted not in clouds:
        raise ConfigError(f"no cloud {wanted!r}", file=str(path), option="--os-cloud",
                          fix=f"use one of: {', '.join(sorted(clouds)) or '(none)'}")
    return _cloud(path, wanted, clouds[wanted])


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not a text file: byte {exc.start} is not UTF-8", file=str(path),
                          option="OS_CLIENT_CONFIG_FILE",
                          fix="point it at the clouds.yaml itself") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=str(path)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("clouds"), dict):
        raise ConfigError("no top-level 'clouds' mapping", file=str(path),
                          fix="clouds.yaml looks like `clouds: {NAME: {auth: {...}}}`")
    return data["clouds"]


def _cloud(path: Path, name: str, entry: Any) -> Cloud:
    auth = entry.get("auth") if isinstance(entry, dict) else None
    if not isinstance(auth, dict):
        raise ConfigError(f"cloud {name!r} has no 'auth' mapping", file=str(path),
                          option=f"clouds.{name}.auth")
    missing = [k for k in ("auth_url", "username", "password", "project_name") if not auth.get(k)]
    if missing:
        raise ConfigError(f"cloud {name!r} lacks {', '.join(missing)}", file=str(path),
                          option=f"clouds.{name}.auth",
                          fix="password auth needs auth_url, username, password, project_name")
    return Cloud(name, str(auth["auth_url"]), str(auth["username"]), str(auth["password"]),
                 str(auth["project_name"]),
                 str(auth.get("user_domain_name", "Default")),
                 str(auth.get("project_domain_name", "Default")),
                 str(entry.get("region_name", "RegionOne")))
