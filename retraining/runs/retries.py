"""How long a run waits for a service that does not answer (MLflow, the data remote), and how often.

A run that meets a transient fault goes back to the queue and is tried again after a delay that
doubles (30 s, 1 min, 2 min, ...), for as many attempts as fit in RUN_RETRY_MAX_WAIT seconds of
waiting; then it fails with the reason. The run row says what it waits for and when it tries
next. Each MLflow call itself gives up within seconds (MLFLOW_HTTP_REQUEST_* in config/settings.py),
so this schedule, not MLflow's own retries, decides how long a run waits.
"""

from dataclasses import dataclass

from django.conf import settings

# No single wait is longer than this, however large RUN_RETRY_MAX_WAIT is.
LONGEST_DELAY = 900


@dataclass(frozen=True)
class Attempt:
    number: int  # 1 for the first try
    total: int
    # Seconds before the next attempt if this one meets a transient fault; None on the last one.
    delay: int | None


def delays() -> list[int]:
    """The waits between attempts, each double the one before, all within RUN_RETRY_MAX_WAIT."""
    waits: list[int] = []
    delay = settings.RUN_RETRY_FIRST_DELAY
    while sum(waits) + delay <= settings.RUN_RETRY_MAX_WAIT:
        waits.append(delay)
        delay = min(delay * 2, LONGEST_DELAY)
    return waits


def attempt(number: int) -> Attempt:
    waits = delays()
    total = len(waits) + 1
    return Attempt(number=number, total=total, delay=waits[number - 1] if number < total else None)
