"""An API key for the traffic, when the app requires one and none is given: made in the database
this process uses, and deleted when the traffic stops."""

import math

from django.conf import settings

from predictor.api import apikeys
from predictor.models import ApiKey

KEY_NAME = "simulate_traffic"


def create_api_key(rate_per_minute: float) -> tuple[int, str]:
    """(row id, key): a key for the simulation, in the database this process uses, whose rate limit
    (when API_RATE_LIMIT is too low) lets the traffic through."""
    key, prefix, hashed = apikeys.generate()
    needed = math.ceil(rate_per_minute * 1.5)
    limit = needed if needed > settings.API_RATE_LIMIT else None
    row = ApiKey.objects.create(name=KEY_NAME, prefix=prefix, hashed_key=hashed, rate_limit=limit)
    return row.pk, key


def delete_api_key(pk: int) -> None:
    ApiKey.objects.filter(pk=pk).delete()
