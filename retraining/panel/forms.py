"""Panel forms: every bad input becomes an error next to the field that caused it."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from ml.gate import words
from ml.positive import canonical, classes
from predictor.models import Deployment, LoggedVersion
from retraining.models import PromotionPolicy, RetrainingRun, TriggerSettings
from retraining.workers import schedule


class PolicyForm(forms.ModelForm):
    """Edits the promotion policy by adding a row: earlier runs keep the policy they were judged by."""

    class Meta:
        model = PromotionPolicy
        fields = [
            "primary_metric",
            "min_improvement",
            "max_guard_drop",
            "test",
            "significance",
            "return_significance",
            "min_first_score",
            "reject_on_drift",
            "positive_class",
            "note",
        ]
        labels = {
            **words.POLICY_FIELDS,
            "reject_on_drift": f"{words.POLICY_FIELDS['reject_on_drift']} (instead of a warning on the run)",
            "positive_class": f"{words.POLICY_FIELDS['positive_class']} (POSITIVE_CLASS)",
        }
        help_texts = {
            "max_guard_drop": "The most any other metric may drop against the champion. With F1 as the primary "
            "metric, precision and recall are judged through F1 (it is their trade-off) and not guarded apart.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        # The gate's names from the one vocabulary (the stored choice labels are older words).
        self.fields["test"].choices = list(words.GATE_CHOICES.items())
        self.initial["note"] = ""  # a note explains one change: the next one starts blank

    def clean_min_improvement(self) -> float:
        return _between(self.cleaned_data["min_improvement"], 0.0, 1.0, "the minimum improvement")

    def clean_max_guard_drop(self) -> float:
        return _between(self.cleaned_data["max_guard_drop"], 0.0, 1.0, "the largest drop")

    def clean_min_first_score(self) -> float:
        return _between(self.cleaned_data["min_first_score"], 0.0, 1.0, "the first model's minimum score")

    def clean_significance(self) -> float:
        return _level(self.cleaned_data["significance"], "the significance level")

    def clean_return_significance(self) -> float:
        return _level(self.cleaned_data["return_significance"], "the level to bring back a replaced model")

    def clean_positive_class(self) -> str:
        """Blank, or a class of the data as far as the product knows it: refused with more than two
        classes (precision, recall and F1 are then macro averages) or when the data has no such class.
        With no class known yet, the next run checks it."""
        value = self.cleaned_data["positive_class"].strip()
        known = _known_classes()
        if not value or known is None:
            return value
        classes, where = known
        shown = ", ".join(classes)
        if len(classes) > 2:
            raise forms.ValidationError(
                f"{where} has {len(classes)} classes ({shown}): a positive class applies to two classes only; "
                "with more, precision, recall and F1 are macro averages. Leave it blank."
            )
        if canonical(value) not in classes:
            raise forms.ValidationError(f"{value!r} is not a class of {where} ({shown})")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        metric = cleaned.get("primary_metric")
        if cleaned.get("test") == PromotionPolicy.Test.MCNEMAR and metric and metric != PromotionPolicy.Metric.ACCURACY:
            self.add_error(
                "test", f"McNemar's test compares accuracy only: use the {words.GATES['bootstrap']} for {metric}"
            )
        return cleaned

    def save_as_new(self, user: AbstractBaseUser) -> PromotionPolicy:
        policy = self.save(commit=False)
        policy.pk = None
        policy.created_by = user
        policy.save()
        return policy


def _known_classes() -> tuple[list[str], str] | None:
    """The classes of the newest data a run compared with a champion, else those of the served
    version's logged predictions; None when neither is known."""
    run = RetrainingRun.objects.exclude(labels={}).order_by("-id").only("pk", "labels").first()
    if run is not None and run.labels.get("data"):
        return list(run.labels["data"]), f"the data of run #{run.pk}"
    served = Deployment.objects.order_by("-id").only("version").first()
    logged = LoggedVersion.objects.filter(version=served.version).first() if served else None
    if logged is not None and logged.classes:
        return classes(logged.classes), f"the served model v{logged.version}"
    return None


class TriggerSettingsForm(forms.ModelForm):
    """Edits the one TriggerSettings row: when live serving starts a run by itself."""

    # Declared here: the model field's own lower bound is 0, and 0 labels would judge on nothing.
    min_labels = forms.IntegerField(
        min_value=1,
        label="Labels needed to judge live quality",
        help_text=TriggerSettings._meta.get_field("min_labels").help_text,
        error_messages={"min_value": "at least %(limit_value)s label is needed to judge live quality"},
    )
    min_label_sources = forms.IntegerField(
        min_value=1,
        label="Label sources needed to start a degradation run",
        help_text=TriggerSettings._meta.get_field("min_label_sources").help_text,
        error_messages={"min_value": "at least %(limit_value)s source is needed"},
    )

    # Not required: a form posted without it (an older page) keeps the current value.
    feedback_min_labels = forms.IntegerField(
        min_value=1,
        required=False,
        label="New labels needed to publish them",
        help_text=TriggerSettings._meta.get_field("feedback_min_labels").help_text,
        error_messages={"min_value": "at least %(limit_value)s new label is needed to publish feedback"},
    )

    class Meta:
        model = TriggerSettings
        fields = [
            "drift_enabled",
            "degradation_enabled",
            "degradation_margin",
            "min_labels",
            "min_label_sources",
            "min_label_share",
            "cooldown_hours",
            "publish_feedback",
            "feedback_min_labels",
        ]
        labels = {
            "min_label_share": "Share of predictions labelled, more than",
            "drift_enabled": "Start a run when live inputs drift",
            "degradation_enabled": "Start a run when live quality falls",
            "degradation_margin": "Margin below the holdout score",
            "cooldown_hours": "Cool-down (hours)",
            "publish_feedback": "Publish labelled predictions as data when a run finds none new",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)

    def clean_degradation_margin(self) -> float:
        return _between(self.cleaned_data["degradation_margin"], 0.0, 1.0, "the margin")

    def clean_publish_feedback(self) -> bool:
        value = self.cleaned_data["publish_feedback"]
        if value and not settings.FEEDBACK_REQUIRES_KEY:
            raise forms.ValidationError(
                "labelled predictions are published only when feedback requires API keys "
                "(FEEDBACK_REQUIRES_KEY=true): without keys anyone could label any prediction"
            )
        return value

    def clean_feedback_min_labels(self) -> int:
        value = self.cleaned_data["feedback_min_labels"]
        return self.instance.feedback_min_labels if value is None else value

    def clean_min_label_share(self) -> float:
        value = self.cleaned_data["min_label_share"]
        if not 0 <= value < 1:
            raise forms.ValidationError(
                f"the share must be at least 0 and below 1 (got {value:g}): labels cover at most every prediction"
            )
        return value

    def clean_cooldown_hours(self) -> float:
        value = self.cleaned_data["cooldown_hours"]
        if not value > 0:
            raise forms.ValidationError(f"the cool-down must be more than 0 hours (got {value:g})")
        return value

    def save_by(self, user: AbstractBaseUser) -> TriggerSettings:
        triggers = self.save(commit=False)
        triggers.updated_by = user
        triggers.save()
        return triggers


class ScheduleForm(forms.Form):
    PRESET_CHOICES = [
        ("hourly", "Hourly (on the hour)"),
        ("daily", "Daily at 02:00"),
        ("weekly", "Weekly, Monday at 02:00"),
        ("monthly", "Monthly, the 1st at 02:00"),
        ("custom", "Custom cron expression"),
    ]

    enabled = forms.BooleanField(required=False, label="Scheduled runs are on")
    preset = forms.ChoiceField(choices=PRESET_CHOICES, widget=forms.RadioSelect)
    cron = forms.CharField(
        required=False,
        max_length=200,
        label="Cron expression",
        help_text="minute hour day-of-month month day-of-week, e.g. 30 3 * * 1-5",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        preset = cleaned.get("preset")
        if preset is None:
            return cleaned
        expression = schedule.PRESETS.get(preset) or (cleaned.get("cron") or "").strip()
        if not expression:
            self.add_error("cron", "enter a cron expression, or choose a preset")
            return cleaned
        try:
            schedule.parse_cron(expression)
        except schedule.CronError as exc:
            self.add_error("cron", str(exc))
        cleaned["expression"] = " ".join(expression.split())
        return cleaned


def _level(value: float, label: str) -> float:
    if not 0 < value < 1:
        raise forms.ValidationError(f"{label} must be strictly between 0 and 1 (got {value})")
    return value


def _between(value: float, low: float, high: float, label: str) -> float:
    if not low <= value <= high:
        raise forms.ValidationError(f"{label} must be between {low:g} and {high:g} (got {value:g})")
    return value
