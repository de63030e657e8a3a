"""An S3-protocol server for the tests: moto's standalone server (`moto_server`, from
requirements-test.txt) started as a subprocess on a free port, once per test process, and a
fixture that points Django's default storage at a fresh bucket on it (django-storages' S3Storage,
configured as config/settings.py configures it for AERIE_S3_BUCKET).

    def test_x(s3_storage):   # default storage is S3 for this test; s3_storage is the bucket name
        ...
    s3_client() lists or reads the bucket behind Django's back.

conftest.py imports the fixtures, so any test file may ask for them."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REGION = "us-east-1"
CREDENTIALS = {"access_key": "testing", "secret_key": "testing"}
_endpoint: str | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto_server() -> str:
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if not found:
        raise RuntimeError("moto_server is not installed: pip install -r requirements-test.txt")
    return found


def start_server(timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start `moto_server -p PORT` and wait until it answers; returns (process, endpoint URL)."""
    port = _free_port()
    proc = subprocess.Popen([_moto_server(), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"moto_server did not answer on port {port} within {timeout:.0f} s")


def s3_client(endpoint: str | None = None):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint or _endpoint, region_name=REGION,
                        aws_access_key_id=CREDENTIALS["access_key"], aws_secret_access_key=CREDENTIALS["secret_key"])


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL of a moto S3 server that lives as long as the test process."""
    global _endpoint
    proc, endpoint = start_server()
    _endpoint = endpoint
    try:
        yield endpoint
    finally:
        _endpoint = None
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def storage_settings(endpoint: str, bucket: str) -> dict:
    """STORAGES["default"] for a bucket on the server (as config/settings.py sets it up)."""
    return {"BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": bucket, "endpoint_url": endpoint, "region_name": REGION, "default_acl": None,
                        "querystring_auth": True, "file_overwrite": False, **CREDENTIALS}}


@pytest.fixture
def s3_storage(settings, isolated_media, s3_server, monkeypatch):
    """Django's default storage on a new, empty bucket for this test; yields the bucket name."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # nothing outside the test's own
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = f"aerie-test-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server).create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": storage_settings(s3_server, bucket)}
    yield bucket


def keys(bucket: str, prefix: str = "") -> set[str]:
    """Every object name in the bucket (under `prefix`)."""
    out = set()
    for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.update(obj["Key"] for obj in page.get("Contents", []))
    return out


__all__ = ["s3_server", "s3_storage", "s3_client", "keys", "start_server", "storage_settings"]
