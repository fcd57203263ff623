"""The image API (glance v2) under /image: versions, schemas, images and their data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from sriovstack.api.context import RequestContext, request_context, services_of
from sriovstack.api.image.schemas import image_create, image_schema, images_schema, json_patch
from sriovstack.api.image.views import image_view, versions_view
from sriovstack.compute import ImageQuery, PatchOp
from sriovstack.errors import Invalid

__all__ = [
    "router",
]

router = APIRouter()


@router.get("")
@router.get("/")
def list_versions(request: Request) -> dict[str, Any]:
    """The version list, served without a token (OSC asks before every image lookup)."""
    return versions_view(services_of(request).settings.url("/image"))


@router.get("/versions")
def list_versions_document(request: Request) -> dict[str, Any]:
    """GET /versions (glanceclient's discovery): the same list, no token."""
    return versions_view(services_of(request).settings.url("/image"))


@router.get("/v2/schemas/image")
def show_image_schema(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 the JSON schema of one image."""
    return image_schema()


@router.get("/v2/schemas/images")
def show_images_schema(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 the JSON schema of an image list."""
    return images_schema()


def _ids(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value.startswith("in:"):
        return tuple(v for v in value[3:].split(",") if v)
    if "," in value or ":" in value:
        raise Invalid(f"Invalid id filter {value!r}: use an id or in:<id>,<id>",
                      field="id", value=value)
    return (value,)


@router.get("/v2/images")
def list_images(name: str | None = None, id: str | None = None, status: str | None = None,
                visibility: str | None = None,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"images": [...], "schema", "first"}``; filters ``name``, ``id=in:a,b``;
    a member sees public images and its project's own."""
    query = ImageQuery(name=name, ids=_ids(id), status=status,
                       visibility=None if visibility == "all" else visibility)
    images = ctx.services.compute.images.list(query, ctx.caller)
    return {"images": [image_view(i) for i in images], "schema": "/v2/schemas/images",
            "first": "/v2/images"}


@router.post("/v2/images", status_code=201)
def create_image(response: Response, body: Any = Body(None),
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """201 the queued image (Location: its URL); 400 bad value; 403 read-only attribute or
    public visibility for a non-admin; 409 taken id."""
    image = ctx.services.compute.images.create(ctx.caller, image_create(body))
    response.headers["Location"] = ctx.services.settings.url(f"/image/v2/images/{image.id}")
    return image_view(image)


@router.get("/v2/images/{image_id}")
def show_image(image_id: str,
               ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 the bare image object; 404 for unknown ids and for names (clients then list)."""
    return image_view(ctx.services.compute.images.get(image_id, ctx.caller))


@router.patch("/v2/images/{image_id}")
def update_image(image_id: str, ops: tuple[PatchOp, ...] = Depends(json_patch),
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 the image after the JSON patch (all operations or none); 403 read-only/base
    removal; 409 replacing a property that does not exist; 400 bad value or media type."""
    return image_view(ctx.services.compute.images.update(ctx.caller, image_id, ops))


@router.delete("/v2/images/{image_id}", status_code=204)
def delete_image(image_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """204; 403 protected or not the owner's; 404 unknown."""
    ctx.services.compute.images.delete(ctx.caller, image_id)
    return Response(status_code=204)


@router.put("/v2/images/{image_id}/tags/{tag}", status_code=204)
def add_image_tag(image_id: str, tag: str,
                  ctx: RequestContext = Depends(request_context)) -> Response:
    """204 once the image carries ``tag`` (idempotent)."""
    image = ctx.services.compute.images.get(image_id, ctx.caller)
    ops = (PatchOp("replace", "tags", [*image.tags, tag]),)
    ctx.services.compute.images.update(ctx.caller, image_id, ops)
    return Response(status_code=204)


@router.delete("/v2/images/{image_id}/tags/{tag}", status_code=204)
def delete_image_tag(image_id: str, tag: str,
                     ctx: RequestContext = Depends(request_context)) -> Response:
    """204 once ``tag`` is gone (idempotent)."""
    image = ctx.services.compute.images.get(image_id, ctx.caller)
    ops = (PatchOp("replace", "tags", [t for t in image.tags if t != tag]),)
    ctx.services.compute.images.update(ctx.caller, image_id, ops)
    return Response(status_code=204)


@router.put("/v2/images/{image_id}/file", status_code=204)
async def upload_image_file(image_id: str, request: Request,
                            ctx: RequestContext = Depends(request_context)) -> Response:
    """204 once the streamed data is stored and the image active; 409 unless queued;
    a broken upload leaves the image queued and no data behind."""
    upload = await run_in_threadpool(ctx.services.compute.images.open_upload, ctx.caller,
                                     image_id)
    with upload:
        async for chunk in request.stream():
            upload.write(chunk)
        await run_in_threadpool(upload.finish)
    return Response(status_code=204)


@router.get("/v2/images/{image_id}/file", response_model=None)
def download_image_file(image_id: str, ctx: RequestContext = Depends(request_context)
                        ) -> Response:
    """200 the data (Content-MD5 = checksum); 204 when the image has no data yet."""
    data = ctx.services.compute.images.data(ctx.caller, image_id)
    if data is None:
        return Response(status_code=204)
    return FileResponse(data.path, media_type="application/octet-stream",
                        headers={"Content-MD5": data.checksum})

