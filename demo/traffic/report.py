"""What the traffic did, and the lines that announce and sum it up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from demo.traffic.options import Options
from demo.traffic.rows import Rows


@dataclass
class Report:
    """What the traffic did. `shifted_at` is when the first shifted request was sent (UTC), and
    `shifted_after` how many seconds after the start; `seconds` is how long requests were sent."""

    url: str = ""
    dataset: str = ""
    model: str = ""
    shift: str = ""
    requests: int = 0
    rows: int = 0
    rows_shifted: int = 0
    errors: int = 0
    labelled: int = 0
    labels_refused: int = 0
    labels_pending: int = 0
    shifted_at: datetime | None = None
    shifted_after: float | None = None
    seconds: float = 0.0
    created_key: bool = False
    interrupted: bool = False
    moved: dict[str, tuple[float, float]] = field(default_factory=dict)

    def line(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        shifted = "not shifted"
        if self.shifted_after is not None:
            shifted = f"shifted at {self.shifted_after:.0f} s ({self.rows_shifted:,} rows since)"
        refused = f" ({self.labels_refused:,} refused)" if self.labels_refused else ""
        return (
            f"sent {self.requests:,} requests ({self.rows:,} rows, {rate:.1f}/s), {self.errors:,} errors, "
            f"{self.labelled:,} labelled{refused}, {shifted}"
        )


def plan(options: Options, report: Report, rows: Rows) -> str:
    """The first line: what is sent, where, from which rows, how fast and for how long."""
    if options.shift_after_requests is not None:
        shift = f"shift after {options.shift_after_requests:,} requests"
    elif options.shift_after is not None:
        shift = f"shift after {options.shift_after:g} s"
    else:
        shift = "no shift"
    until = f"for {options.duration:g} s" if options.duration else "until Ctrl-C"
    size = "1 row" if options.rows_per_request == 1 else f"{options.rows_per_request} rows"
    return (
        f"sending {report.dataset} demo rows to {report.url} ({report.model}, {len(rows.columns)} columns) "
        f"from {rows.source}: {options.rate:g} requests/s of {size}, labels for {options.label_share:.0%}, "
        f"{shift} (seed {options.seed}), {until}"
    )


def left(report: Report) -> str:
    """What the last line adds when some labels could not be posted."""
    if not report.labels_pending:
        return ""
    return f"; {report.labels_pending:,} labels not posted (their predictions are not in the log)"
