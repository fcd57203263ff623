"""ApiSettings: what one API process needs to know (public URL, database, config, limits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sriovstack.compute import DEFAULT_LEASE_SECONDS
from sriovstack.errors import ConfigError

if TYPE_CHECKING:
    from sriovstack.conf import DeploymentConfig

__all__ = ["ApiSettings", "DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_IMAGE_BYTES",
           "MAX_BUILD_START_DELAY"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_BUILD_START_DELAY = 3600.0  # seconds; the test hook's upper bound
DEFAULT_MAX_IMAGE_BYTES = 1 << 40  # glance's image_size_cap default (1 TiB)
# How long the server keeps an idle client connection. uvicorn's 5 s default is shorter than
# the gaps between a client's polls on a loaded machine (`server create --wait` polls every
# 2 s, stretched by load): the server then closed the connection just as the client reused
# it, and the client saw "Connection reset by peer" (issue 16). Longer than any client's idle.
KEEP_ALIVE_SECONDS = 75


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Settings of the API: ``base_url`` is what catalogs and links advertise.

    ``deployment`` is the chapter's config (nova.conf, ml2_conf.ini, ...) loaded by
    ``sriovstack.conf.load_config``; None runs the services on their defaults.
    ``build_start_delay`` is a test hook (``api serve --test-build-delay``): seconds every
    background build waits after the 202, so a test can kill the API in that window; 0 in
    service.
    ``metrics_token``: when set, ``GET /metrics`` wants ``Authorization: Bearer <it>``
    (no Keystone token either way). ``metrics_dir``: prometheus_client's multiprocess
    directory, set by ``api serve --workers N``; a scrape then sums every worker's counters.
    ``image_dir`` holds uploaded image data (None: uploads are refused with 503);
    an upload is streamed there, past ``max_body_bytes``, up to ``max_image_bytes``.
    ``lease_seconds``: how long a build's or another multi-step operation's lease lasts
    (``api serve --lease-seconds``); a worker killed mid-operation is recovered after it.
    """

    base_url: str
    database_url: str
    deployment: DeploymentConfig | None = None
    token_ttl: timedelta = timedelta(hours=1)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    region: str = "RegionOne"
    build_start_delay: float = 0.0
    metrics_token: str | None = None
    metrics_dir: Path | None = None
    image_dir: Path | None = None
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base URL {self.base_url!r} is not an http(s) URL",
                              option="base_url", fix="e.g. http://controller:8080")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if self.token_ttl <= timedelta(0):
            raise ConfigError(f"token lifetime {self.token_ttl} must be positive",
                              option="token_ttl")
        if self.max_body_bytes <= 0:
            raise ConfigError(f"body limit {self.max_body_bytes} must be positive",
                              option="max_body_bytes")
        if not 0.0 <= self.build_start_delay <= MAX_BUILD_START_DELAY:
            raise ConfigError(f"build start delay {self.build_start_delay} is not a number of "
                              f"seconds between 0 and {MAX_BUILD_START_DELAY:.0f}",
                              option="build_start_delay (--test-build-delay)",
                              fix="leave it out (it is a test hook) or give e.g. 30")

        if self.metrics_token is not None and (len(self.metrics_token) < 16
                                               or not self.metrics_token.isprintable()
                                               or " " in self.metrics_token):
            raise ConfigError("the metrics bearer token must be at least 16 printable "
                              "characters without spaces", option="metrics_token",
                              fix="e.g. openssl rand -hex 24 > /etc/sriovstack/metrics-token")

    def url(self, path: str) -> str:
        """The public URL of ``path`` ("/identity" → "http://host:port/identity")."""
        return f"{self.base_url}/{path.lstrip('/')}"
