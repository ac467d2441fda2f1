"""Feedback you can trust: the API key that made each logged prediction, every label given kept
with who gave it (LabelChange), and labels held until their prediction is written (HeldLabel).

Rows logged before this have no key: any caller admitted to feedback may label them, as before.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0002_numeric_regression_values"),
    ]

    operations = [
        migrations.AddField(
            model_name="prediction",
            name="api_key",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="predictor.apikey",
            ),
        ),
        migrations.CreateModel(
            name="HeldLabel",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("prediction_id", models.UUIDField(db_index=True)),
                ("label", models.CharField(max_length=200)),
                ("source", models.CharField(max_length=200)),
                ("received_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField(db_index=True)),
                ("dropped", models.TextField(blank=True)),
                (
                    "api_key",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="predictor.apikey",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="LabelChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("prediction_id", models.UUIDField(db_index=True)),
                ("old_label", models.CharField(blank=True, max_length=200, null=True)),
                ("label", models.CharField(max_length=200)),
                ("source", models.CharField(max_length=200)),
                ("given_at", models.DateTimeField(db_index=True)),
                (
                    "api_key",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="predictor.apikey",
                    ),
                ),
            ],
            options={
                "ordering": ["-given_at", "-id"],
            },
        ),
    ]
