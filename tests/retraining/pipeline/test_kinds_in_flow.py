"""Column kinds through the whole pipeline over in-memory resources: free text left out with a
warning naming it, dates read as their parts, booleans and codes kept as such, kinds recorded with
the model; unlabelled rows refuse the version with their count, or are left out and counted."""

import numpy as np
import pandas as pd
import pytest

from demo.batches import demo_frame
from tests.support.in_memory import memory_resources, run_in_memory
from tests.support.pipeline import GOOD_PARAMS


def penguins_with_more_columns(batch: int = 1) -> pd.DataFrame:
    frame = demo_frame(batch, "penguins").reset_index(drop=True)
    rows = len(frame)
    return frame.assign(
        band=[f"b{i:05d}" for i in range(rows)],
        field_note=[f"seen near the colony at dawn, count {i} and weather note {i * 7}" for i in range(rows)],
        seen_on=[f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(rows)],
        ringed=[i % 2 == 0 for i in range(rows)],
        nest=[f"0{100 + i % 40}" for i in range(rows)],
    )


@pytest.fixture
def setup_settings(settings):
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"
    settings.DATA_ID_COLUMN = "band"
    return settings


def test_kinds_are_inferred_applied_and_recorded_with_the_model(setup_settings):
    resources = memory_resources(penguins_with_more_columns())

    state = run_in_memory(resources, GOOD_PARAMS)

    assert state.status == "deployed"
    features = state.lineage["features"]
    assert "field_note" not in features
    assert "seen_on" not in features
    assert "band" not in features
    assert {"seen_on_year", "seen_on_month", "seen_on_dayofweek", "ringed", "nest"} <= set(features)
    columns = state.lineage["columns"]["columns"]
    assert columns["field_note"] == {"kind": "text", "origin": "inferred"}
    assert columns["band"] == {"kind": "id", "origin": "setting"}
    assert columns["nest"] == {"kind": "categorical", "origin": "inferred"}
    assert columns["ringed"]["kind"] == "boolean"
    assert state.lineage["ignored"] == ["band", "field_note"]
    assert state.lineage["dates"] == {"seen_on": False}
    assert any("'field_note' looks like free text" in w for w in state.validation.warnings)


def test_ids_and_left_out_columns_are_not_new_columns_on_the_next_run(setup_settings):
    resources = memory_resources(penguins_with_more_columns(1))
    run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = penguins_with_more_columns(2)

    state = run_in_memory(resources, GOOD_PARAMS)

    assert state.validation is not None
    assert not any("new columns" in w for w in state.validation.warnings), state.validation.warnings


def with_unlabelled(rows: int) -> pd.DataFrame:
    frame = demo_frame(1, "penguins").reset_index(drop=True)
    frame.loc[: rows - 1, "species"] = np.nan
    return frame


def test_unlabelled_rows_refuse_the_version_with_their_count_by_default(settings):
    settings.TARGET_COLUMN = "species"
    resources = memory_resources(with_unlabelled(5))

    state = run_in_memory(resources, GOOD_PARAMS)

    assert state.status == "rejected"
    assert any("has 5 missing labels" in r and "DROP_UNLABELLED_ROWS" in r for r in state.reasons)


def test_unlabelled_rows_are_left_out_and_counted_when_asked(settings):
    settings.TARGET_COLUMN = "species"
    settings.DROP_UNLABELLED_ROWS = True
    frame = with_unlabelled(5)
    resources = memory_resources(frame)

    state = run_in_memory(resources, GOOD_PARAMS)

    assert state.status == "deployed"
    assert state.rows["total"] == len(frame) - 5
    assert state.lineage["unlabelled_left_out"] == 5
    assert any("5 rows without a label" in w for w in state.validation.warnings)
