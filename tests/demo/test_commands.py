"""The demo's commands, which the product's bootstrap and publish_data call by name in the demo."""

from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command


def command(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def no_registry_yet(tmp_path: Path, settings) -> Path:
    settings.DATA_REGISTRY = str(tmp_path / "registry")
    settings.DATA_IS_DEMO = True
    settings.DATA_REMOTE = str(tmp_path / "remote")
    settings.DEMO_DATASET = "penguins"
    settings.DATA_PATH = "data/penguins.csv"
    return tmp_path / "registry"


def test_create_demo_registry_publishes_batch_1_once(no_registry_yet, settings) -> None:
    created = command("create_demo_registry")

    assert created.startswith(f"demo data registry created at {no_registry_yet} (version 1, md5 ")
    assert len(pd.read_csv(no_registry_yet / settings.DATA_PATH)) == 206
    assert command("create_demo_registry") == ""


def test_publish_data_without_a_file_publishes_the_demos_next_batch(demo_registry, settings) -> None:
    published = command("publish_data")

    assert published.startswith(f"published {settings.DATA_PATH} @ ")
    assert len(pd.read_csv(demo_registry / settings.DATA_PATH)) == 275


def test_publish_data_says_when_every_demo_batch_is_published(demo_registry) -> None:
    command("publish_demo_batch")
    command("publish_demo_batch")

    with pytest.raises(CommandError, match="all 3 demo batches are already published"):
        command("publish_data")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("publish_data", "give the CSV file to publish"),
        ("publish_demo_batch", "DATA_REGISTRY is set: the demo batches exist only in the demo registry"),
        ("create_demo_registry", "DATA_REGISTRY is set: the app uses that registry, not the demo's"),
    ],
)
def test_with_a_registry_of_its_own_the_app_never_writes_demo_data(name, message, tmp_path, settings) -> None:
    settings.DATA_REGISTRY = str(tmp_path / "registry")
    settings.DATA_IS_DEMO = False

    with pytest.raises(CommandError, match=message):
        command(name)
    assert not (tmp_path / "registry").exists()
