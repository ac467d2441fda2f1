"""Column kinds: the settings win over the declared kinds, which win over inference; inference keeps
codes with leading zeros as text, booleans as booleans, dates as their numeric parts, and leaves free
text out with a warning naming it."""

import pandas as pd
import pytest

from ml.kinds import KindError, Kinds, apply, check_declared, infer, resolve


def customers(rows: int = 120) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(rows)],
            "zip": [f"0{2100 + i % 30}" for i in range(rows)],
            "plan_code": [1 + i % 4 for i in range(rows)],
            "is_premium": [i % 3 == 0 for i in range(rows)],
            "signed_up": [f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(rows)],
            "note": [f"called on day {i} about the invoice number {i * 7}" for i in range(rows)],
            "monthly_fee": [10.0 + i % 7 for i in range(rows)],
            "churned": ["yes", "no"] * (rows // 2),
        }
    )


def test_inference_keeps_codes_booleans_dates_and_numbers_apart_and_leaves_free_text_out() -> None:
    kinds = resolve(customers(), "churned", id_column="customer_id")

    assert kinds.kinds == {
        "customer_id": "id",
        "zip": "categorical",
        "plan_code": "numeric",
        "is_premium": "boolean",
        "signed_up": "datetime",
        "note": "text",
        "monthly_fee": "numeric",
        "churned": "target",
    }
    assert kinds.origin["customer_id"] == "setting"
    assert kinds.origin["zip"] == "inferred"
    assert set(kinds.left_out) == {"customer_id", "churned", "note", "signed_up"}
    assert kinds.ignored == ["customer_id", "note"]
    assert kinds.dates == {"signed_up": False}
    assert len(kinds.warnings) == 1
    assert "'note'" in kinds.warnings[0]
    assert "free text" in kinds.warnings[0]


def test_declared_kinds_win_over_inference_and_settings_win_over_declared() -> None:
    declared = {"plan_code": "categorical", "note": "text", "monthly_fee": "excluded", "customer_id": "numeric"}

    kinds = resolve(customers(), "churned", id_column="customer_id", declared=declared)

    assert kinds.kinds["plan_code"] == "categorical"
    assert kinds.origin["plan_code"] == "declared"
    assert kinds.kinds["note"] == "text"
    assert "note" not in kinds.left_out
    assert kinds.kinds["monthly_fee"] == "excluded"
    assert kinds.kinds["customer_id"] == "id"
    assert any("'customer_id' is declared numeric but the settings make it id" in w for w in kinds.warnings)
    assert set(kinds.ignored) == {"customer_id", "monthly_fee"}


def test_applied_kinds_make_codes_text_and_dates_numeric_parts() -> None:
    frame = customers(4)
    frame.loc[1, "signed_up"] = None
    kinds = resolve(frame, "churned", declared={"plan_code": "categorical", "signed_up": "datetime"})

    applied = apply(frame, kinds)

    assert applied["plan_code"].tolist() == ["1", "2", "3", "4"]
    assert applied["signed_up_year"].tolist()[:1] == [2026.0]
    assert applied["signed_up_month"].tolist()[0] == 1.0
    assert pd.isna(applied["signed_up_month"].iloc[1])
    assert "signed_up_hour" not in applied.columns
    assert applied["is_premium"].dtype == bool


def test_a_timestamp_column_gets_an_hour_part() -> None:
    frame = pd.DataFrame({"at": ["2026-12-01T08:30:00", "2026-12-02T17:00:00"], "y": ["a", "b"]})

    kinds = resolve(frame, "y")

    assert kinds.kinds["at"] == "datetime"
    assert apply(frame, kinds)["at_hour"].tolist() == [8.0, 17.0]


def test_text_holding_only_true_and_false_is_boolean() -> None:
    assert infer(pd.Series(["true", "False", None, "TRUE"])) == "boolean"
    assert infer(pd.Series(["yes", "no"])) == "categorical"


def test_an_unknown_declared_kind_is_refused_naming_it() -> None:
    with pytest.raises(KindError, match=r"data\.schema\.yaml declares unknown column kinds \('zip': 'postcode'\)"):
        check_declared({"zip": "postcode", "plan_code": "categorical"}, "data.schema.yaml")


def test_kinds_survive_their_record() -> None:
    kinds = resolve(customers(), "churned")

    assert Kinds.from_dict(kinds.as_dict()).kinds == kinds.kinds
