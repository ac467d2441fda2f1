"""The real resources over the database: which versions were replaced recently."""

from datetime import timedelta

from django.utils import timezone

from predictor.models import Deployment
from retraining.pipeline.resources import DatabaseDeployments


def served(version: str, days_ago: float) -> None:
    row = Deployment.objects.create(model_name="m", version=version, source=Deployment.Source.PIPELINE)
    Deployment.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


def test_a_version_replaced_or_rolled_away_from_within_the_window_is_recent(db):
    served("1", 60)
    served("2", 50)
    served("3", 10)
    served("2", 5)  # rolled back to v2: v3 was rolled away from

    assert DatabaseDeployments().recently_replaced(timedelta(days=30)) == {"2", "3"}


def test_a_version_replaced_before_the_window_is_not_recent(db):
    served("1", 60)
    served("2", 50)

    assert DatabaseDeployments().recently_replaced(timedelta(days=30)) == set()


def test_a_redeployment_of_the_same_version_replaces_nothing(db):
    served("1", 10)
    served("1", 5)

    assert DatabaseDeployments().recently_replaced(timedelta(days=30)) == set()
