"""The all-in-one cloud's passwords: made once per state directory, kept in a 0600 file."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from sriovstack.errors import ConfigError

__all__ = ["Credentials", "AGENT_USER"]

AGENT_USER = "sriovstack-agent"  # the service user both agents of every host log in as
_FILE = "credentials.json"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Passwords of the admin, demo and agent users of one all-in-one deployment."""

    admin_password: str
    demo_password: str
    agent_password: str
    agent_user: str = AGENT_USER

    @classmethod
    def load_or_create(cls, state_dir: Path) -> Credentials:
        """The credentials saved in ``state_dir``, or new random ones saved there (mode 0600).

        Raises ConfigError naming the file when it exists but cannot be read back.
        """
        path = state_dir / _FILE
        if path.exists():
            return cls._load(path)
        made = cls(*(secrets.token_urlsafe(12) for _ in range(3)))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(made), fh, indent=2)
        return made

    @classmethod
    def _load(cls, path: Path) -> Credentials:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["admin_password"]), str(data["demo_password"]),
                       str(data["agent_password"]), str(data.get("agent_user", AGENT_USER)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot read the saved credentials: {exc}", file=str(path),
                              fix="delete the file (new passwords are made) or the whole "
                                  "state directory") from exc
