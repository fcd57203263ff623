"""The compute API router (an empty placeholder until its owner fills it)."""

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()
