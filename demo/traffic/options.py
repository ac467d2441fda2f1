"""What the traffic is asked to do (the command's options), checked before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass

from demo.traffic.base import TrafficError
from demo.traffic.shifts import SHIFTS

DEFAULT_RATE = 20.0
DEFAULT_SHIFT_AFTER = 60.0
DEFAULT_LABEL_SHARE = 0.3
DEFAULT_SEED = 0
STATUS_EVERY = 5.0


@dataclass(frozen=True)
class Options:
    url: str
    rate: float = DEFAULT_RATE
    rows_per_request: int = 1
    duration: float | None = None
    shift_after: float | None = DEFAULT_SHIFT_AFTER
    shift_after_requests: int | None = None
    label_share: float = DEFAULT_LABEL_SHARE
    api_key: str | None = None
    seed: int = DEFAULT_SEED
    dataset: str | None = None
    status_every: float = STATUS_EVERY

    def check(self) -> None:
        if not self.rate > 0:
            raise TrafficError(f"--rate must be above 0 requests per second, got {self.rate}")
        if self.rows_per_request < 1:
            raise TrafficError(f"--rows-per-request must be at least 1, got {self.rows_per_request}")
        if self.duration is not None and not self.duration > 0:
            raise TrafficError(f"--duration must be above 0 seconds, got {self.duration}")
        if self.shift_after is not None and self.shift_after < 0:
            raise TrafficError(f"--shift-after must be 0 seconds or more, got {self.shift_after}")
        if self.shift_after_requests is not None and self.shift_after_requests < 0:
            raise TrafficError(f"--shift-after-requests must be 0 or more, got {self.shift_after_requests}")
        if not 0 <= self.label_share <= 1:
            raise TrafficError(f"--label-share must be between 0 and 1, got {self.label_share}")
        if self.dataset is not None and self.dataset not in SHIFTS:
            raise TrafficError(f"--dataset must be {' or '.join(SHIFTS)}, got {self.dataset!r}")
