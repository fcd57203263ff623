"""The HTTP API: identity v3, network v2.0, compute v2.1, image v2, placement, internal."""
