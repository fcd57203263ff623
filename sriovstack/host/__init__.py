"""One Linux host: sysfs discovery under a root prefix, VF creation and settings,
readiness checks, persistence. ``simulated/`` is the fake kernel and fixture trees."""
