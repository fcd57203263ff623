"""The read-only image registry: the seeded cirros image, show and glance's list filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from sriovstack.compute.types import Image
from sriovstack.db import Database
from sriovstack.db.models import ImageRow
from sriovstack.errors import ErrorKind, NotFound

__all__ = ["ImageService", "ImageQuery", "CIRROS"]

_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)

# A fixed id so tempest.conf's [compute] image_ref can name it before the service starts.
CIRROS = Image(
    id="6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a", name="cirros", status="active",
    visibility="public", disk_format="qcow2", container_format="bare", min_disk=0,
    min_ram=0, size=21430272, checksum="c8fc807773e5354afe61636071771906", owner=None,
    protected=False, created_at=_EPOCH, updated_at=_EPOCH,
    properties=(("hw_architecture", "x86_64"), ("os_distro", "cirros")))


@dataclass(frozen=True, slots=True)
class ImageQuery:
    """Glance list filters: ``name`` exact, ``ids`` from ``id=in:a,b``."""

    name: str | None = None
    ids: tuple[str, ...] | None = None
    status: str | None = None
    visibility: str | None = None


def _to_image(row: ImageRow) -> Image:
    return Image(id=row.id, name=row.name, status=row.status, visibility=row.visibility,
                 disk_format=row.disk_format, container_format=row.container_format,
                 min_disk=row.min_disk, min_ram=row.min_ram, size=row.size,
                 checksum=row.checksum, owner=row.owner, protected=row.protected,
                 created_at=row.created_at, updated_at=row.updated_at,
                 properties=tuple(sorted((str(k), str(v)) for k, v in row.properties.items())))


class ImageService:
    """Reads images; ``seed()`` registers cirros once (idempotent)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def seed(self, images: tuple[Image, ...] = (CIRROS,)) -> None:
        """Insert each image whose id is not present yet."""
        with self._db.transaction() as session:
            have = set(session.scalars(select(ImageRow.id)))
            for im in images:
                if im.id not in have:
                    session.add(ImageRow(
                        id=im.id, name=im.name, status=im.status, visibility=im.visibility,
                        disk_format=im.disk_format, container_format=im.container_format,
                        min_disk=im.min_disk, min_ram=im.min_ram, size=im.size,
                        checksum=im.checksum, owner=im.owner, protected=im.protected,
                        properties=im.property_map(), created_at=im.created_at,
                        updated_at=im.updated_at))

    def get(self, image_id: str) -> Image:
        """The image with this id; NotFound for unknown ids and for names (glance does so)."""
        with self._db.transaction() as session:
            row = session.get(ImageRow, image_id)
            if row is None:
                raise NotFound(f"No image found with ID {image_id}", kind=ErrorKind.IMAGE_NOT_FOUND,
                               field="image", value=image_id)
            return _to_image(row)

    def list(self, query: ImageQuery = ImageQuery()) -> tuple[Image, ...]:
        """Images sorted by name then id, filtered as asked."""
        with self._db.transaction() as session:
            stmt = select(ImageRow).order_by(ImageRow.name, ImageRow.id)
            if query.name is not None:
                stmt = stmt.where(ImageRow.name == query.name)
            if query.ids is not None:
                stmt = stmt.where(ImageRow.id.in_(query.ids))
            if query.status is not None:
                stmt = stmt.where(ImageRow.status == query.status)
            if query.visibility is not None:
                stmt = stmt.where(ImageRow.visibility == query.visibility)
            return tuple(_to_image(r) for r in session.scalars(stmt))
