"""Heroku Redis speaks TLS with a self-signed certificate: the broker and the cache must still connect.

A real `redis-server` with a TLS port and a certificate made by openssl stands in for it.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import free_port
from tests.support.redis import start_redis, stop_redis

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, django
django.setup()
from django.core.cache import cache
from config.celery import app

cache.set("tls-probe", "cached over TLS", 30)
with app.connection_for_write() as connection:
    queue = connection.SimpleQueue("tls-probe")
    queue.put({"sent": "over TLS"})
    message = queue.get(timeout=10)
    message.ack()
    queue.close()
print(json.dumps({"cache": cache.get("tls-probe"), "broker": message.payload, "url": app.conf.broker_url}))
"""


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[int]:
    """A redis-server that only speaks TLS, with a self-signed certificate like Heroku Redis."""
    if not shutil.which("redis-server") or not shutil.which("openssl"):
        pytest.skip("redis-server and openssl are needed to stand in for Heroku Redis")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=redis.example"),
            *("-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = start_redis(
        tmp_path,
        *("--port", "0", "--tls-port", str(port)),
        *("--tls-cert-file", str(tmp_path / "cert.pem"), "--tls-key-file", str(tmp_path / "key.pem")),
        *("--tls-auth-clients", "no"),
    )
    try:
        yield port
    finally:
        stop_redis(server)


def probe(tmp_path: Path, redis_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL=redis_url)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_the_broker_and_the_cache_work_over_tls_with_a_self_signed_certificate(tmp_path: Path, tls_redis: int) -> None:
    result = probe(tmp_path, f"rediss://127.0.0.1:{tls_redis}/0")
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["cache"] == "cached over TLS"
    assert got["broker"] == {"sent": "over TLS"}
    assert got["url"].startswith("rediss://")


@pytest.mark.slow
def test_the_tls_server_refuses_a_plain_connection(tmp_path: Path, tls_redis: int) -> None:
    """So the test above proves TLS, not a server that would also take plain text."""
    import redis

    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=tls_redis, socket_timeout=3).ping()
