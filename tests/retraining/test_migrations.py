"""Data migrations keep what stored rows meant."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("retraining", "0005_run_owner_and_attempts")]
AFTER = [("retraining", "0006_policy_significance_gate")]


def migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_latest(transactional_db):
    """Whatever the test migrates to, the database ends on the latest schema the other tests need."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_policies_get_the_gate_and_mcnemar_ones_keep_mcnemar(back_to_latest):
    old = migrate(BEFORE).get_model("retraining", "PromotionPolicy")
    plain = old.objects.create(primary_metric="accuracy", use_mcnemar=False, significance=0.05).pk
    strict = old.objects.create(primary_metric="accuracy", use_mcnemar=True, significance=0.03).pk

    new = migrate(AFTER).get_model("retraining", "PromotionPolicy")

    assert new.objects.get(pk=plain).test == "bootstrap"
    # Its level never applied (no test ran): it gets the calibrated one. McNemar keeps its own.
    assert new.objects.get(pk=plain).significance == 0.005
    assert new.objects.get(pk=strict).test == "mcnemar"
    assert new.objects.get(pk=strict).significance == 0.03
    assert new.objects.get(pk=plain).return_significance == 0.001

    back = migrate(BEFORE).get_model("retraining", "PromotionPolicy")
    assert back.objects.get(pk=strict).use_mcnemar
    assert not back.objects.get(pk=plain).use_mcnemar
