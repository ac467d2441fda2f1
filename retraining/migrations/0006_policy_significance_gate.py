"""The significance gate replaces the McNemar on/off switch.

Every existing policy gets the gate: a policy that required McNemar keeps McNemar and its level,
the others get the paired bootstrap at the calibrated level (with no gate, the old default deployed
on noise). ROC AUC becomes a primary metric, and a stricter level guards bringing back a replaced
model.
"""

from django.db import migrations, models


def switch_to_test(apps, schema_editor) -> None:
    """A policy without McNemar never applied its significance level: it gets the calibrated one."""
    PromotionPolicy = apps.get_model("retraining", "PromotionPolicy")
    PromotionPolicy.objects.filter(use_mcnemar=True).update(test="mcnemar")
    PromotionPolicy.objects.filter(use_mcnemar=False).update(significance=0.005)


def switch_back(apps, schema_editor) -> None:
    PromotionPolicy = apps.get_model("retraining", "PromotionPolicy")
    PromotionPolicy.objects.filter(test="mcnemar").update(use_mcnemar=True)


class Migration(migrations.Migration):
    dependencies = [
        ("retraining", "0005_run_owner_and_attempts"),
    ]

    operations = [
        migrations.AddField(
            model_name="promotionpolicy",
            name="test",
            field=models.CharField(
                choices=[
                    ("bootstrap", "Paired bootstrap (any metric)"),
                    ("mcnemar", "McNemar (accuracy only)"),
                    ("none", "None: any gain deploys"),
                ],
                default="bootstrap",
                help_text="How a gain is shown to be more than the noise of this holdout.",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="promotionpolicy",
            name="return_significance",
            field=models.FloatField(
                default=0.001,
                help_text="The stricter level for bringing back a model that was just replaced (rollback).",
            ),
        ),
        migrations.RunPython(switch_to_test, switch_back),
        migrations.RemoveField(
            model_name="promotionpolicy",
            name="use_mcnemar",
        ),
        migrations.AlterField(
            model_name="promotionpolicy",
            name="primary_metric",
            field=models.CharField(
                choices=[
                    ("accuracy", "Accuracy"),
                    ("precision", "Precision"),
                    ("recall", "Recall"),
                    ("f1", "F1"),
                    ("roc_auc", "ROC AUC"),
                ],
                default="accuracy",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="promotionpolicy",
            name="significance",
            field=models.FloatField(
                default=0.005, help_text="A gain must have a p-value below this (two-sided) to deploy."
            ),
        ),
    ]
