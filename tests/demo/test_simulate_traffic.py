"""manage.py simulate_traffic (demo/traffic/): demo rows to a real app, shifted after a
while, with the true labels of a share of them posted as feedback."""

import dataclasses
import io
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import orjson
import pandas as pd
import pytest
import requests
from django.core.management import CommandError, call_command
from django.test import override_settings

from demo import datasets, traffic
from demo.batches import demo_frame
from demo.traffic.client import Api
from demo.traffic.feedback import Feedback
from demo.traffic.report import Report
from ml.drift import drift
from ml.drift.profile import build_profile
from ml.estimators import train
from ml.features import prepare_features
from predictor import services
from predictor.models import ApiKey, Deployment, LabelChange, Prediction
from tests.support import gunicorn_server
from tests.support.keys import create_key
from tests.support.processes import free_port, subprocess_env
from tests.support.serving import log_penguins_model
from tests.support.workers import wait_until

TARGETS = {"churn": "churned", "penguins": "species"}


def served_as_trained(dataset: str) -> traffic.ServedModel:
    """What GET /api/v1/model says of a model trained on demo batch 1: its signature makes a
    column required where the training rows had no gap."""
    features = prepare_features(demo_frame(1, dataset), TARGETS[dataset])
    classes = sorted(demo_frame(3, dataset)[TARGETS[dataset]].dropna().unique())
    required = [c for c in features.columns if features[c].notna().all()]
    columns = list(features.columns)
    return traffic.ServedModel(f"{dataset}-classifier", "1", columns, required, classes, 10_000, len(features))


def drawn(dataset: str, count: int, shifted: bool, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    rows = traffic.build_rows(dataset, served_as_trained(dataset), seed)
    records, labels = rows.draw(np.random.default_rng(seed), count, shifted)
    return pd.DataFrame(records), labels


def test_rows_carry_exactly_the_served_columns_and_every_required_value() -> None:
    model = served_as_trained("penguins")
    rows = traffic.build_rows("penguins", model, seed=1)
    for shifted in (False, True):
        records, labels = rows.draw(np.random.default_rng(1), 500, shifted)
        assert all(list(record) == model.columns for record in records)
        assert all(record[name] is not None for record in records for name in model.required)
        assert set(labels) <= set(model.classes)
    # Rows with gaps in the optional columns are sent too, as clients send them.
    assert any(value is None for record in rows.before.records for value in record.values())


@pytest.mark.parametrize(
    ("data_rows", "source", "pool"),
    [
        (200, "the 200 rows of demo batch 1, as the model was trained", 200),
        (2000, "the 2,000 rows of demo batch 2, as the model was trained", 2000),
        (None, "all 2,400 rows of the demo dataset", 2400),
        (1234, "all 2,400 rows of the demo dataset", 2400),
    ],
)
def test_rows_come_from_the_demo_batch_the_served_model_was_trained_on(data_rows, source, pool) -> None:
    model = dataclasses.replace(served_as_trained("churn"), data_rows=data_rows)
    rows = traffic.build_rows("churn", model)
    assert rows.source == source
    assert len(rows.before.records) == len(rows.after.records) == pool
    assert rows.before.records == traffic.rows._records(demo_frame(3, "churn").head(pool)[model.columns])


def test_unshifted_rows_are_the_demo_data_and_the_same_seed_draws_the_same_rows() -> None:
    frame, labels = drawn("churn", 300, shifted=False, seed=4)
    demo = demo_frame(3, "churn")
    merged = frame.assign(churned=labels).merge(demo.drop_duplicates(), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    again, same_labels = drawn("churn", 300, shifted=False, seed=4)
    other, _ = drawn("churn", 300, shifted=False, seed=5)
    pd.testing.assert_frame_equal(frame, again)
    assert labels == same_labels
    assert not frame.equals(other)


@pytest.mark.parametrize(
    ("dataset", "moved", "column", "top"),
    [
        ("churn", {"tenure_months": 1.5, "monthly_charges": 1.0}, "contract", "month-to-month"),
        ("penguins", {"bill_length_mm": 1.5, "body_mass_g": 1.0}, "island", "Dream"),
    ],
)
def test_the_shift_moves_the_named_features_by_their_sd_and_changes_a_mix(dataset, moved, column, top) -> None:
    rows = traffic.build_rows(dataset, served_as_trained(dataset))
    demo = demo_frame(1, dataset)  # the batch the model was trained on, where rows are drawn from
    for name, sds in moved.items():
        offset = sds * demo[name].std()
        assert rows.offsets[name] == pytest.approx(offset)
        before = np.array([r[name] for r in rows.before.records], dtype=float)
        after = np.array([r[name] for r in rows.after.records], dtype=float)
        # Every row moves by the offset, rounded as the feature's values are (whole months, cents, grams).
        assert np.nanmax(np.abs(after - before - offset)) <= 0.5
    before, _ = drawn(dataset, 3000, shifted=False)
    after, _ = drawn(dataset, 3000, shifted=True)
    for name in moved:
        # The drawn means move as announced: by the offset, and by the new mix where the feature differs with it.
        expected = rows.moved[name][1] - rows.moved[name][0]
        assert after[name].mean() - before[name].mean() == pytest.approx(expected, abs=0.1 * demo[name].std())
        assert expected > 0.5 * demo[name].std()
    assert (after[column] == top).mean() > (before[column] == top).mean() + 0.25
    first = next(iter(moved))
    assert rows.description.startswith(f"{first} +{moved[first]:g} sd")
    assert f"{column} mostly {top}" in rows.description


@pytest.mark.parametrize("dataset", ["churn", "penguins"])
def test_the_drift_check_sees_shifted_traffic_and_not_the_unshifted(dataset) -> None:
    """Against the profile of the training rows, as the served champion stores it."""
    training = prepare_features(demo_frame(1, dataset), TARGETS[dataset])
    profile = build_profile(training, None)
    before, _ = drawn(dataset, 500, shifted=False)
    after, _ = drawn(dataset, 500, shifted=True)

    assert drift.measure(before, profile).verdict == drift.NO_DRIFT
    report = drift.measure(after, profile)
    assert report.verdict == drift.DRIFT
    assert set(traffic.SHIFTS[dataset].numeric) | {traffic.SHIFTS[dataset].mix_column} <= set(report.drifted)


@pytest.mark.parametrize("dataset", ["churn", "penguins"])
def test_a_champion_trained_on_the_demo_data_is_right_less_often_on_shifted_traffic(dataset) -> None:
    model = train(demo_frame(1, dataset), TARGETS[dataset], "random_forest", {"n_estimators": 50}, 42)
    scores = {}
    for shifted in (False, True):
        frame, labels = drawn(dataset, 1000, shifted, seed=2)
        scores[shifted] = (model.predict(prepare_features(frame)) == np.array(labels)).mean()
    assert scores[True] < scores[False] - 0.15, scores


def test_shifted_churn_labels_follow_the_new_concept() -> None:
    """Long-standing month-to-month customers, kept by their tenure in the training data, now leave."""
    for shifted, expected in ((False, (0.0, 0.3)), (True, (0.85, 1.0))):
        frame, labels = drawn("churn", 3000, shifted)
        poached = ((frame["contract"] == "month-to-month") & (frame["tenure_months"] > 48)).to_numpy()
        leaving = (np.array(labels)[poached] == "yes").mean()
        assert expected[0] <= leaving <= expected[1], (shifted, leaving)


def test_churn_labels_follow_the_published_churn_rule() -> None:
    demo = demo_frame(3, "churn")
    agree = (datasets.churn_risk(demo) > datasets.CHURN_THRESHOLD) == (demo["churned"] == "yes")
    assert 0.93 < agree.mean() < 0.97  # 5% of the labels are flipped


def test_the_dataset_is_the_one_whose_columns_the_model_takes(settings) -> None:
    settings.DEMO_DATASET = "churn"
    assert traffic.pick_dataset(served_as_trained("penguins").columns) == "penguins"
    assert traffic.pick_dataset(served_as_trained("churn").columns) == "churn"
    with pytest.raises(traffic.TrafficError, match="takes the columns sepal_length, which no demo dataset has"):
        traffic.pick_dataset(["sepal_length"])


def test_nothing_answering_at_the_url_says_to_start_the_app() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    message = f"nothing answers at {url}: start it with make run, or give its address with --url (Connection refused)"
    with pytest.raises(traffic.TrafficError, match=re.escape(message)):
        traffic.run(traffic.Options(url=url, duration=1), write=lambda line: None)
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("simulate_traffic", "--url", url, "--duration", "1", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": "localhost:8000"}, "--url must be the app's address, like http://127.0.0.1:8000"),
        ({"rate": 0}, "--rate must be above 0"),
        ({"label_share": 1.5}, "--label-share must be between 0 and 1"),
        ({"rows_per_request": 0}, "--rows-per-request must be at least 1"),
    ],
)
def test_bad_options_are_named(changes, message) -> None:
    options = traffic.Options(**{"url": "http://127.0.0.1:8000", **changes})
    with pytest.raises(traffic.TrafficError, match=re.escape(message)):
        traffic.run(options, write=lambda line: None)


# Against a real app ----------------------------------------------------------------------------------


def log_penguin_version() -> tuple[str, str]:
    """(model name, version): a penguins model of its own, registered but not deployed."""
    name = f"test-traffic-{uuid.uuid4().hex[:8]}"
    with override_settings(MODEL_NAME=name):
        return name, log_penguins_model(demo_frame(1, "penguins"), {"n_estimators": 30})


def serve(server: gunicorn_server.Server, settings, name: str, version: str) -> None:
    settings.MODEL_NAME = name
    services.deploy(version, source=Deployment.Source.BOOTSTRAP, reason="test")
    deadline = time.monotonic() + 90
    while requests.get(f"{server.url}/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, server.log.read_text()[-3000:]
        time.sleep(0.3)


@pytest.fixture
def open_app(tmp_path, django_db_setup, django_db_blocker):
    """Stopped at the end of its test: a server serves the newest deployment whatever its model,
    so two live at once would serve each other's."""
    name, version = log_penguin_version()
    started = gunicorn_server.start(tmp_path, workers=1, MODEL_NAME=name)
    yield started, name, version
    started.stop()
    with django_db_blocker.unblock():
        gunicorn_server.clean_database()


@pytest.fixture(scope="module")
def keyed_app(tmp_path_factory, django_db_setup, django_db_blocker):
    name, version = log_penguin_version()
    started = gunicorn_server.start(
        tmp_path_factory.mktemp("gunicorn"), workers=1, MODEL_NAME=name, API_KEYS_REQUIRED="true"
    )
    yield started, name, version
    started.stop()
    with django_db_blocker.unblock():
        gunicorn_server.clean_database()


@pytest.mark.slow
def test_traffic_is_logged_shifts_after_a_while_and_a_share_is_labelled(open_app, transactional_db, settings) -> None:
    server, name, version = open_app
    serve(server, settings, name, version)
    lines: list[str] = []
    options = traffic.Options(
        url=server.url, rate=20, rows_per_request=10, duration=8, shift_after=4, label_share=0.3, seed=5, status_every=2
    )

    report = traffic.run(options, write=lines.append)

    logged = pd.DataFrame(Prediction.objects.values("created_at", "inputs", "prediction", "label", "model_version"))
    assert (report.errors, report.labels_refused, report.labels_pending) == (0, 0, 0), lines
    assert len(logged) == report.rows >= 0.6 * 20 * 10 * 8
    assert set(logged["model_version"]) == {version}
    columns = served_as_trained("penguins").columns
    assert all(sorted(inputs) == sorted(columns) for inputs in logged["inputs"])
    labelled = logged[logged["label"].notna()]
    assert len(labelled) == report.labelled
    assert 0.22 < len(labelled) / len(logged) < 0.38

    shifted = logged["created_at"] >= report.shifted_at
    assert shifted.sum() == report.rows_shifted
    before = pd.DataFrame(list(logged.loc[~shifted, "inputs"]))
    after = pd.DataFrame(list(logged.loc[shifted, "inputs"]))
    assert min(len(before), len(after)) >= 300
    demo = demo_frame(3, "penguins")
    for column, (mean_before, mean_after) in report.moved.items():
        sd = demo[column].std()
        assert after[column].mean() - before[column].mean() == pytest.approx(mean_after - mean_before, abs=0.2 * sd)
        assert mean_after - mean_before > 0.5 * sd
    assert (after["island"] == "Dream").mean() > 0.6 > 0.45 > (before["island"] == "Dream").mean()
    profile = build_profile(prepare_features(demo_frame(1, "penguins"), "species"), None)
    assert drift.measure(before, profile).verdict == drift.NO_DRIFT
    assert drift.measure(after, profile).verdict == drift.DRIFT
    right = labelled["label"] == labelled["prediction"]
    assert right[~shifted].mean() > right[shifted].mean() + 0.15

    assert any(line.startswith("from now on: bill_length_mm +1.5 sd") for line in lines), lines
    status = [line for line in lines if re.match(r"\s+\d+s  sent [\d,]+ requests", line)]
    assert len(status) >= 3, lines
    assert "not shifted" in status[0]
    assert "shifted at 4 s" in status[-1]
    assert lines[-1].startswith("stopped after 8 s: sent")


class InterruptedOnce(Api):
    """The app's API, with a Ctrl-C landing once right after the app answered a feedback post:
    the labels are recorded, the answer that counts them never read."""

    interrupted = False

    def post(self, path: str, body: dict) -> requests.Response:
        response = super().post(path, body)
        if path == "/api/v1/feedback" and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return response


@pytest.mark.slow
def test_labels_whose_post_ctrl_c_interrupted_are_posted_again_at_the_stop_and_counted_once(
    open_app, transactional_db, settings
) -> None:
    server, name, version = open_app
    serve(server, settings, name, version)
    api = InterruptedOnce(server.url)
    rows = demo_frame(1, "penguins").drop(columns=["species"]).head(30)
    answer = api.post("/api/v1/predict", {"dataframe_split": orjson.loads(rows.to_json(orient="split", index=False))})
    assert answer.status_code == 200, answer.text
    ids = answer.json()["prediction_ids"]
    wait_until(lambda: Prediction.objects.count() == len(ids), 10, "the predictions logged")
    report = Report()
    feedback = Feedback(api, report, lambda line: None, lambda kind, line: None)
    feedback.add(time.monotonic() - 60, ids, ["Adelie"] * len(ids), np.ones(len(ids), dtype=bool))

    with pytest.raises(KeyboardInterrupt):
        feedback.post(older_than=time.monotonic())
    assert Prediction.objects.filter(label__isnull=False).count() == len(ids)  # recorded, not counted
    feedback.finish()

    assert (report.labelled, report.labels_pending, report.errors) == (len(ids), 0, 0)
    assert Prediction.objects.filter(label="Adelie").count() == len(ids)


@pytest.mark.slow
def test_a_stop_set_without_an_exception_still_stops_the_traffic_cleanly(open_app, transactional_db, settings) -> None:
    # What Ctrl-C leaves when its KeyboardInterrupt lands where Python drops it (a finalizer): the flag.
    server, name, version = open_app
    serve(server, settings, name, version)
    stop = threading.Event()
    lines: list[str] = []

    def write(line: str) -> None:
        lines.append(line)
        if re.match(r"\s+\d+s  sent", line):
            stop.set()

    options = traffic.Options(url=server.url, rate=20, duration=60, label_share=1.0, status_every=1)
    report = traffic.run(options, write=write, stop=stop)

    assert report.interrupted, lines
    assert report.seconds < 10, lines
    assert "stopping: posting the labels still waiting (Ctrl-C again to quit now)" in lines
    assert (report.labels_pending, report.labels_refused) == (0, 0), lines
    assert Prediction.objects.filter(label__isnull=False).count() == report.labelled > 0
    assert lines[-1].startswith("stopped after"), lines


@pytest.mark.slow
def test_with_keys_required_a_key_is_made_for_the_traffic_and_deleted_after(keyed_app, transactional_db, settings):
    server, name, version = keyed_app
    settings.MODEL_NAME = name
    # Nothing deployed yet under this model's name: the app answers, but serves no model.
    with pytest.raises(CommandError, match=f"no model is served at {server.url} yet"):
        call_command("simulate_traffic", "--url", server.url, "--duration", "2", stdout=io.StringIO())
    assert not ApiKey.objects.exists()

    serve(server, settings, name, version)
    out = io.StringIO()
    call_command(
        "simulate_traffic",
        *("--url", server.url, "--duration", "3", "--rate", "10", "--no-shift", "--label-share", "0.5"),
        stdout=out,
    )

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("the app requires an API key: created one named 'simulate_traffic'"), lines
    assert "no shift" in lines[1]
    assert re.match(r"stopped after 3 s: sent \d+ requests \(\d+ rows, [\d.]+/s\), 0 errors, \d+ labelled", lines[-1])
    assert lines[-1].endswith("not shifted")
    logged = Prediction.objects.count()
    assert logged >= 15
    assert 0.2 < Prediction.objects.filter(label__isnull=False).count() / logged < 0.8
    assert not ApiKey.objects.exists()


@pytest.mark.slow
def test_with_keys_required_on_feedback_only_the_labels_are_given_with_a_made_key(
    tmp_path, django_db_setup, django_db_blocker, transactional_db, settings
):
    name, version = log_penguin_version()
    server = gunicorn_server.start(tmp_path, workers=1, MODEL_NAME=name, FEEDBACK_REQUIRES_KEY="true")
    try:
        settings.FEEDBACK_REQUIRES_KEY = True
        serve(server, settings, name, version)
        lines: list[str] = []
        options = traffic.Options(url=server.url, rate=10, duration=3, shift_after=None, label_share=0.5)

        report = traffic.run(options, write=lines.append)

        assert lines[0].startswith("the app's feedback requires an API key: created one named 'simulate_traffic'")
        assert (report.errors, report.labels_refused) == (0, 0), lines
        (source,) = set(LabelChange.objects.values_list("source", flat=True))
        assert source.startswith("key:"), lines
        assert report.labelled > 0
        assert not ApiKey.objects.exists()
    finally:
        server.stop()
        with django_db_blocker.unblock():
            gunicorn_server.clean_database()


@pytest.mark.slow
def test_a_refused_key_stops_the_traffic_with_the_answer(keyed_app, transactional_db, settings) -> None:
    server, name, version = keyed_app
    serve(server, settings, name, version)
    options = traffic.Options(url=server.url, api_key="abcd1234.not-a-key", duration=2)
    with pytest.raises(traffic.TrafficError, match=r'answered HTTP 401: \{"error":"the API key is not valid"\}'):
        traffic.run(options, write=lambda line: None)
    assert not Prediction.objects.exists()


@pytest.mark.slow
def test_the_command_follows_a_new_champion_and_stops_cleanly_on_ctrl_c(keyed_app, transactional_db, settings):
    server, name, version = keyed_app
    serve(server, settings, name, version)
    _, key = create_key("demo")
    command = [sys.executable, "manage.py", "simulate_traffic", "--url", server.url, "--api-key", key]
    command += ["--shift-after", "2", "--rate", "10"]
    process = subprocess.Popen(
        command,
        cwd=gunicorn_server.ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None

        def read_until(prefix: str) -> None:
            deadline = time.monotonic() + 120
            while not (lines and lines[-1].startswith(prefix)):
                assert time.monotonic() < deadline, lines
                assert process.poll() is None, lines
                lines.append(process.stdout.readline().rstrip("\n"))

        read_until("from now on: bill_length_mm +1.5 sd")
        with override_settings(MODEL_NAME=name):
            second = log_penguins_model(demo_frame(2, "penguins"), {"n_estimators": 10})
        services.deploy(second, source=Deployment.Source.PIPELINE, reason="test")
        read_until(f"{name} v{second} is served now: rows from all 344 rows of the demo dataset")
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines += rest.splitlines()

    assert process.returncode == 0, lines
    assert "labels not posted" not in lines[-1]
    assert "stopping: posting the labels still waiting (Ctrl-C again to quit now)" in lines
    last = re.match(
        r"stopped after \d+ s: sent [\d,]+ requests \(([\d,]+) rows.*, 0 errors, ([\d,]+) labelled", lines[-1]
    )
    assert last, lines
    rows, labelled = (int(group.replace(",", "")) for group in last.groups())
    # The server's log writer wakes every 0.5 s: the last answers' rows land just after them.
    wait_until(lambda: Prediction.objects.count() >= rows, 10, f"{rows} logged predictions")
    assert Prediction.objects.count() == rows
    assert Prediction.objects.filter(label__isnull=False).count() == labelled > 0
    assert set(Prediction.objects.values_list("model_version", flat=True)) == {version, second}
