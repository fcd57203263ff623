"""``/dashboard``: the cloud's VFs in a browser (server-rendered HTML, a little JavaScript)."""

from sriovstack.api.dashboard.routes import router

__all__ = ["router"]
