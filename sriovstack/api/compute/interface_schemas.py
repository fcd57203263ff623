"""os-interface request bodies (nova's attach_interfaces schema): ``interfaceAttachment`` with
``port_id`` or ``net_id`` (+ one ``fixed_ips`` address), and from 2.49 a device ``tag``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion
from sriovstack.compute import InterfaceAttach
from sriovstack.errors import Invalid
from sriovstack.network import FixedIpRequest

__all__ = ["InterfaceAttachRequest"]

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class FixedIpItem(BaseModel):
    """One ``fixed_ips`` entry: the address the new port gets on ``net_id``."""

    model_config = _STRICT
    ip_address: str = Field(min_length=1, max_length=64)


class InterfaceAttachBody(BaseModel):
    model_config = _STRICT
    port_id: str | None = Field(default=None, min_length=1, max_length=36)
    net_id: str | None = Field(default=None, min_length=1, max_length=36)
    fixed_ips: list[FixedIpItem] | None = Field(default=None, min_length=1, max_length=1)
    # nova's tag: at most 60 characters, no ',' or '/'.
    tag: str | None = Field(default=None, min_length=1, max_length=60, pattern=r"^[^,/]*$")


class InterfaceAttachRequest(BaseModel):
    """``{"interfaceAttachment": {...}}``."""

    model_config = _STRICT
    interfaceAttachment: InterfaceAttachBody | None = None

    def to_spec(self, version: ApiVersion) -> InterfaceAttach:
        """The typed request at ``version``; Invalid (400) naming the field otherwise."""
        body = self.interfaceAttachment
        if body is None or (body.port_id is None and body.net_id is None):
            raise Invalid("interfaceAttachment must give port_id or net_id: this compute "
                          "service does not pick a network for you", field="port_id",
                          fix='{"interfaceAttachment": {"port_id": "<port id>"}}')
        if body.port_id is not None and body.net_id is not None:
            raise Invalid("Must not input both network_id and port_id", field="net_id",
                          value=body.net_id)
        if body.fixed_ips is not None and body.net_id is None:
            raise Invalid("Must input network_id when request IP address", field="fixed_ips")
        if body.tag is not None and version < mv.INTERFACE_TAG:
            raise Invalid("Invalid input for field/attribute interfaceAttachment. Additional "
                          f"properties are not allowed ('tag' was unexpected) at microversion "
                          f"{version}", field="tag")
        fixed = (tuple(FixedIpRequest(ip_address=f.ip_address) for f in body.fixed_ips)
                 if body.fixed_ips else None)
        return InterfaceAttach(port_id=body.port_id, network_id=body.net_id, fixed_ips=fixed,
                               tag=body.tag)
