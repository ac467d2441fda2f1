"""API keys as staff create them in the admin (predictor/admin.py): generated, stored hashed."""

from predictor.api import apikeys
from predictor.models import ApiKey


def create_key(name: str, rate_limit: int | None = None, row_limit: int | None = None) -> tuple[ApiKey, str]:
    """(the stored row, the key handed out once)."""
    key, prefix, hashed = apikeys.generate()
    row = ApiKey.objects.create(name=name, prefix=prefix, hashed_key=hashed, rate_limit=rate_limit, row_limit=row_limit)
    return row, key
