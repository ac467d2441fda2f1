# The admin lists serving processes, not Django's "serving processs".

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0004_log_budget"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="servingprocess",
            options={"ordering": ["name"], "verbose_name_plural": "serving processes"},
        ),
    ]
