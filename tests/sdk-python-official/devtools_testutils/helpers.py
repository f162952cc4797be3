def is_live():
    """The tests set `is_live._cache` themselves; a local server is not live."""
    return getattr(is_live, "_cache", False)
