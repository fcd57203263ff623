"""The image registry (glance v2): the seeded cirros image, create, JSON-patch update, delete,
list with glance's visibility rules, and the data (upload, download) in the image store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from sriovstack.clock import Clock
from sriovstack.compute.image_patch import ImageAttrs, PatchOp, apply_patch
from sriovstack.compute.image_store import ImageStore, PartialUpload
from sriovstack.compute.types import Image
from sriovstack.db import Database
from sriovstack.db.models import ImageRow
from sriovstack.errors import Conflict, ErrorKind, Forbidden, NotFound
from sriovstack.identity import Caller, policy

__all__ = ["ImageService", "ImageQuery", "ImageCreate", "ImageUpload", "ImageData", "CIRROS"]

# ``check_known``'s read (every server create), built once.
_KNOWN = select(ImageRow.__table__.c.id).where(ImageRow.__table__.c.id == bindparam("image"))
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




@dataclass(frozen=True, slots=True)
class ImageCreate:
    """A new image: the base attributes given (checked) and its extra properties."""

    id: str | None
    attrs: ImageAttrs


@dataclass(frozen=True, slots=True)
class ImageData:
    """An image's stored data: the file to send and its md5."""

    path: Path
    size: int
    checksum: str


def _to_image(row: ImageRow) -> Image:
    return Image(id=row.id, name=row.name, status=row.status, visibility=row.visibility,
                 disk_format=row.disk_format, container_format=row.container_format,
                 min_disk=row.min_disk, min_ram=row.min_ram, size=row.size,
                 checksum=row.checksum, owner=row.owner, protected=row.protected,
                 created_at=row.created_at, updated_at=row.updated_at,
                 properties=tuple(sorted((str(k), str(v)) for k, v in row.properties.items())),
                 tags=tuple(row.tags or ()), os_hidden=row.os_hidden,
                 os_hash_value=row.os_hash_value)


def _not_found(image_id: str) -> NotFound:
    return NotFound(f"No image found with ID {image_id}", kind=ErrorKind.IMAGE_NOT_FOUND,
                    field="image", value=image_id)


def _visible(caller: Caller, row: ImageRow) -> bool:
    """Glance's default: public and community images, the caller's own, all for admins."""
    return (caller.is_admin or row.visibility in ("public", "community")
            or (row.owner is not None and row.owner == caller.project_id))


def _check_visibility(caller: Caller, visibility: str) -> None:
    if visibility == "public" and not caller.is_admin:
        raise policy.denied("Setting visibility to public is admin only (publicize_image)",
                            field="visibility", value=visibility)


def _data_name(image_id: str, sha512: str) -> str:
    # The digest in the name keeps two racing uploads of one image from sharing a file.
    return f"{image_id}.{sha512[:32]}"


class ImageUpload:
    """One upload of image data: ``write`` chunks, ``finish``; leaving the ``with`` block
    without ``finish`` (an error, a dropped client) discards the partial data."""

    def __init__(self, service: ImageService, image_id: str, partial: PartialUpload) -> None:
        self._service = service
        self._image_id = image_id
        self._partial = partial
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._partial.write(chunk)

    def finish(self) -> Image:
        """Store the data and make the image active; Conflict if another upload won."""
        image = self._service._finish_upload(self._image_id, self._partial)
        self._done = True
        return image

    def __enter__(self) -> ImageUpload:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._done:
            self._partial.discard()


class ImageService:
    """The image registry; ``seed()`` registers cirros once (idempotent)."""

    def __init__(self, db: Database, store: ImageStore, clock: Clock) -> None:
        self._db = db
        self._store = store
        self._clock = clock

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

    def get(self, image_id: str, caller: Caller | None = None) -> Image:
        """The image with this id; NotFound for unknown ids, names (glance does so) and
        images ``caller`` may not see."""
        with self._db.transaction() as session:
            row = session.get(ImageRow, image_id)
            if row is None or (caller is not None and not _visible(caller, row)):
                raise _not_found(image_id)
            return _to_image(row)

    @staticmethod
    def check_known(session: Session, image_id: str) -> None:
        """NotFound unless an image has this id (a name is no id), read in ``session``."""
        if session.execute(_KNOWN, {"image": image_id}).first() is None:
            raise _not_found(image_id)

    def list(self, query: ImageQuery = ImageQuery(), caller: Caller | None = None
             ) -> tuple[Image, ...]:
        """Images sorted by name then id, filtered as asked and to what ``caller`` sees."""
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
            if caller is not None and not caller.is_admin:
                stmt = stmt.where(or_(ImageRow.visibility == "public",
                                      ImageRow.owner == caller.project_id))
            return tuple(_to_image(r) for r in session.scalars(stmt))

    def create(self, caller: Caller, spec: ImageCreate) -> Image:
        """A queued image owned by the caller's project; Conflict for a taken id."""
        policy.require_writer(caller, "creating an image")
        owner = policy.require_project_scope(caller, "creating an image")
        base = dict(spec.attrs.base)
        visibility = base.get("visibility", "shared")
        _check_visibility(caller, visibility)
        now = self._clock.now()
        image_id = spec.id or str(uuid.uuid4())
        with self._db.transaction() as session:
            if session.get(ImageRow, image_id) is not None:
                raise Conflict(f"An image with identifier {image_id} already exists",
                               field="id", value=image_id)
            session.add(ImageRow(
                id=image_id, name=base.get("name") or "", status="queued",
                visibility=visibility, disk_format=base.get("disk_format", "raw"),
                container_format=base.get("container_format", "bare"),
                min_disk=base.get("min_disk", 0), min_ram=base.get("min_ram", 0), size=None,
                checksum=None, owner=owner, protected=base.get("protected", False),
                properties=dict(spec.attrs.properties), tags=base.get("tags", []),
                os_hidden=base.get("os_hidden", False), created_at=now, updated_at=now))
        return self.get(image_id)

    def _owned(self, session: Session, caller: Caller, image_id: str, what: str) -> ImageRow:
        row = session.get(ImageRow, image_id)
        if row is None or not _visible(caller, row):
            raise _not_found(image_id)
        if not caller.is_admin and row.owner != caller.project_id:
            raise policy.denied(f"You are not permitted to {what} image {image_id}",
                                field="image", value=image_id)
        policy.require_writer(caller, f"{what} an image")
        return row

    def update(self, caller: Caller, image_id: str, ops: tuple[PatchOp, ...]) -> Image:
        """The image after the JSON-patch ``ops`` (all or none applied)."""
        with self._db.transaction() as session:
            row = self._owned(session, caller, image_id, "modify")
            current = ImageAttrs(
                base=(("name", row.name), ("visibility", row.visibility),
                      ("disk_format", row.disk_format),
                      ("container_format", row.container_format), ("min_disk", row.min_disk),
                      ("min_ram", row.min_ram), ("protected", row.protected),
                      ("tags", list(row.tags or ())), ("os_hidden", row.os_hidden)),
                properties=tuple((str(k), str(v)) for k, v in row.properties.items()))
            new = apply_patch(current, ops)
            base = dict(new.base)
            if base["visibility"] != row.visibility:
                _check_visibility(caller, base["visibility"])
            for attr, value in base.items():
                setattr(row, attr, value)
            row.properties = dict(new.properties)
            row.updated_at = self._clock.now()
        return self.get(image_id)

    def delete(self, caller: Caller, image_id: str) -> None:
        """Remove the image and its data; Forbidden for a protected image."""
        with self._db.transaction() as session:
            row = self._owned(session, caller, image_id, "delete")
            if row.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.",
                                field="protected", value=True)
            sha512 = row.os_hash_value
            session.delete(row)
        if sha512:  # after the commit: a crash in between leaves an orphan file, no image
            self._store.delete(_data_name(image_id, sha512))

    def open_upload(self, caller: Caller, image_id: str) -> ImageUpload:
        """An upload for a queued image the caller owns; Conflict unless it is queued."""
        with self._db.transaction() as session:
            row = self._owned(session, caller, image_id, "upload data to")
            if row.status != "queued":
                raise Conflict(f"Image {image_id} is {row.status}: data can only be uploaded "
                               f"to a queued image", field="status", value=row.status)
        return ImageUpload(self, image_id, self._store.begin(image_id))

    def _finish_upload(self, image_id: str, partial: PartialUpload) -> Image:
        # Write the file under a name only this data has, then flip queued -> active with a
        # conditional UPDATE: a racing upload that lost removes its own file.
        stored = partial.stored()
        name = _data_name(image_id, stored.os_hash_value)
        partial.commit(self._store.final_path(name))
        with self._db.transaction() as session:
            flipped = session.execute(
                update(ImageRow).where(ImageRow.id == image_id, ImageRow.status == "queued")
                .values(status="active", size=stored.size, checksum=stored.checksum,
                        os_hash_value=stored.os_hash_value, updated_at=self._clock.now()))
            won = flipped.rowcount == 1  # type: ignore[attr-defined]
        if not won:
            current = self._winner_hash(image_id)
            if current != stored.os_hash_value:
                self._store.delete(name)
            raise Conflict(f"Image {image_id} is no longer queued: another upload finished "
                           f"first", field="status")
        return self.get(image_id)

    def _winner_hash(self, image_id: str) -> str | None:
        with self._db.transaction() as session:
            row = session.get(ImageRow, image_id)
            return None if row is None else row.os_hash_value

    def data(self, caller: Caller, image_id: str) -> ImageData | None:
        """The stored data of a visible image, or None when it has none (glance: 204)."""
        image = self.get(image_id, caller)
        if image.os_hash_value is None or image.size is None or image.checksum is None:
            return None
        path = self._store.path(_data_name(image_id, image.os_hash_value))
        if path is None:
            return None
        return ImageData(path, image.size, image.checksum)
