def get_credential(is_async=False):
    """Entra ID credentials are only asked for against live Azure accounts."""
    raise RuntimeError("the official suite runs against a local server with key authentication")
