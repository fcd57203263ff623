"""The ``sriovstack`` command (console script ``sriovstack.cli.main:main``): one module per
command group, wiring the other packages together; nothing imports it."""

__all__: list[str] = []
