"""The ML2 binding loop: mechanism drivers in configured order, first binder wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sriovstack.network.mechanisms import BindRequest, Bound, Declined, MechanismDriver
from sriovstack.network.types import VifType

__all__ = ["BindingResult", "bind"]


@dataclass(frozen=True, slots=True)
class BindingResult:
    """The outcome of one binding attempt; ``failure`` names every driver's reason."""

    vif_type: VifType
    vif_details: tuple[tuple[str, str | bool], ...]
    device_up: bool
    failure: str | None


def bind(drivers: Sequence[MechanismDriver], request: BindRequest) -> BindingResult:
    """Ask each driver in order; the first that binds wins. Nobody → ``binding_failed``
    with a reason that names the host and why each driver declined."""
    reasons: list[str] = []
    for driver in drivers:
        outcome: Bound | Declined = driver.bind(request)
        if isinstance(outcome, Bound):
            return BindingResult(outcome.vif_type, outcome.vif_details, outcome.device_up, None)
        reasons.append(f"{driver.name}: {outcome.reason}")
    if not reasons:
        reasons.append("no mechanism drivers are configured ([ml2] mechanism_drivers)")
    failure = (f"Binding failed for port on host {request.host!r}: " + "; ".join(reasons))
    return BindingResult(VifType.BINDING_FAILED, (), False, failure)
