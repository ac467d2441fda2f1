"""The follower thread: a serving process picks up a new deployment by itself."""

import time

from predictor.models import Deployment
from predictor.serving.follower import follower
from predictor.serving.holder import holder
from tests.support.serving import deploy


def test_the_follower_thread_notices_a_deployment_within_the_poll_interval(
    transactional_db, settings, penguin_versions, follower_off
):
    poll = 0.5
    settings.MODEL_NAME = penguin_versions.name
    settings.MODEL_POLL_INTERVAL = poll
    deploy(penguin_versions.first.version, source=Deployment.Source.BOOTSTRAP)
    models = holder()
    try:
        follower().start()
        deadline = time.monotonic() + 30
        while (models.current is None or models.current.version != "1") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert models.current.version == "1"
        deploy(penguin_versions.second.version)
        switched_by = time.monotonic() + poll + 10
        while models.current.version != "2" and time.monotonic() < switched_by:
            time.sleep(0.05)
        assert models.current.version == "2"
    finally:
        follower().stop()
