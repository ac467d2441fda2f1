"""A regression's predicted and true values as numbers, beside their text.

Rows logged before these columns existed are converted where the version that made them is a
regression, as its newest deployment records (selectors.version_task): a classification's
numeric classes ("0", "1") stay classes. Only text that reads as a finite decimal number is
cast, so no row can make the migration fail; the conversion is one UPDATE per column.
"""

from django.db import migrations, models
from django.db.models import FloatField
from django.db.models.functions import Cast

# A decimal number as str(float) and feedback write it (no "nan", "inf" or thousands separators).
NUMBER = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"


def regression_versions(apps) -> set[str]:  # type: ignore[no-untyped-def]
    newest: dict[str, dict] = {}
    deployments = apps.get_model("predictor", "Deployment").objects.order_by("id")
    for version, data in deployments.values_list("version", "data_version"):
        newest[version] = data or {}
    return {version for version, data in newest.items() if data.get("task") == "regression"}


def fill_values(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    versions = regression_versions(apps)
    if not versions:
        return
    rows = apps.get_model("predictor", "Prediction").objects.filter(model_version__in=versions)
    rows.filter(prediction__regex=NUMBER).update(prediction_value=Cast("prediction", FloatField()))
    rows.filter(label__regex=NUMBER).update(label_value=Cast("label", FloatField()))


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="prediction",
            name="label_value",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="prediction",
            name="prediction_value",
            field=models.FloatField(blank=True, null=True),
        ),
        # Going back drops the columns; the text was never changed.
        migrations.RunPython(fill_values, migrations.RunPython.noop, elidable=True),
    ]
