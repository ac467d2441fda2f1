"""Which runs a list shows: outcome, trigger, a date range and text, read the same way by the
panel's runs page and GET /api/v1/runs."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from retraining.models import RetrainingRun

# What a text search reads: the reasons and error a person remembers, the model version, the data
# version, who started the run. JSON fields are searched as their text.
_TEXT_FIELDS = ("error", "model_version", "decision_rule", "waiting", "triggered_by__username")
_JSON_FIELDS = ("reasons", "dataset", "evidence", "forced")
_LARGEST_ID = 2**63 - 1
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FilterError(ValueError):
    """Filter values that cannot be read: {field: what is wrong}."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class RunFilter:
    status: str = ""
    trigger: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""

    @classmethod
    def parse(cls, query: Mapping[str, str], *, blank_is_unset: bool = False) -> "RunFilter":
        """The filter a query string asks for; every value that cannot be read is named at once.

        An empty value is an error (the API: `until=` is not a date), unless `blank_is_unset` (a
        form sends its empty fields)."""
        if blank_is_unset:
            query = {name: value for name, value in query.items() if value != ""}
        errors: dict[str, str] = {}
        values: dict[str, object] = {}
        for name, choices in (("status", RetrainingRun.Status.values), ("trigger", RetrainingRun.Trigger.values)):
            value = query.get(name)
            if value is not None and value not in choices:
                errors[name] = f"unknown {name} {value!r}: choose one of {', '.join(choices)}"
            values[name] = value or ""
        for name in ("since", "until"):
            value = query.get(name)
            # Only the calendar date the OpenAPI schema promises (date.fromisoformat also takes 20261207).
            try:
                if value is not None and not _DATE.fullmatch(value):
                    raise ValueError(value)
                values[name] = date.fromisoformat(value) if value is not None else None
            except ValueError:
                errors[name] = f"{value!r} is not a date: give it as YYYY-MM-DD"
        if not errors and values["since"] and values["until"] and values["since"] > values["until"]:
            errors["until"] = f"{values['until']} is before since {values['since']}"
        values["q"] = (query.get("q") or "").strip()[:200]
        if "\x00" in values["q"]:
            # No stored text holds one, and PostgreSQL refuses it in a query.
            errors["q"] = "the text holds a NUL character (\\x00): remove it"
        if errors:
            raise FilterError(errors)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        return any(getattr(self, each.name) for each in fields(self))

    def runs(self, runs: QuerySet[RetrainingRun]) -> QuerySet[RetrainingRun]:
        """`runs` kept by this filter."""
        if self.status:
            runs = runs.filter(status=self.status)
        if self.trigger:
            runs = runs.filter(trigger=self.trigger)
        # Whole days in the app's time zone, both ends included, as a person reads a date.
        # The calendar's first and last days are open ends: their bounds are outside what a
        # datetime can hold once moved to UTC.
        if self.since and self.since > date.min:
            runs = runs.filter(created_at__gte=_start_of(self.since))
        if self.until and self.until < date.max:
            runs = runs.filter(created_at__lt=_start_of(self.until + timedelta(days=1)))
        if self.q:
            # The JSON fields are searched as their text.
            runs = runs.annotate(**{f"{name}_text": Cast(name, TextField()) for name in _JSON_FIELDS})
            runs = runs.filter(self._text())
        return runs

    def _text(self) -> Q:
        number = self.q.removeprefix("#")
        # Only ASCII digits within a primary key's range are an id ("²" is a digit to isdigit).
        is_id = number.isascii() and number.isdigit() and int(number) <= _LARGEST_ID
        match = Q(pk=int(number)) if is_id else Q()
        for name in _TEXT_FIELDS:
            match |= Q(**{f"{name}__icontains": self.q})
        for name in _JSON_FIELDS:
            match |= Q(**{f"{name}_text__icontains": self.q})
        return match

    def query_string(self) -> str:
        """The filter as a query string, for the links of the next pages."""
        return urlencode({each.name: getattr(self, each.name) for each in fields(self) if getattr(self, each.name)})


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
