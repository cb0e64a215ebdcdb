"""The storage interface: a local folder and a real S3-compatible server (moto's, over HTTP)."""
from __future__ import annotations

import pytest

from lms_extension.errors import InvalidInput, NotFound
from lms_extension.services.storage import LocalStorage, S3Storage


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    from tests.e2e.platform import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    import uuid

    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    bucket = f"lms-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return S3Storage(bucket, endpoint_url=s3_server, region="us-east-1", prefix="lms"), client, bucket


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    return request.getfixturevalue("s3")[0]


def test_put_get_exists_delete(storage):
    data = bytes(range(256)) * 100
    assert not storage.exists("lessons/1/resources/data.bin")
    storage.put("lessons/1/resources/data.bin", data, "application/octet-stream")
    assert storage.exists("lessons/1/resources/data.bin")
    assert storage.get("lessons/1/resources/data.bin") == data
    storage.put("lessons/1/resources/data.bin", b"v2")
    assert storage.get("lessons/1/resources/data.bin") == b"v2"
    storage.delete("lessons/1/resources/data.bin")
    assert not storage.exists("lessons/1/resources/data.bin")
    with pytest.raises(NotFound):
        storage.get("lessons/1/resources/data.bin")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../b", "", ".hidden", "a/b c", "x" * 600])
def test_keys_cannot_escape(storage, key):
    with pytest.raises(InvalidInput):
        storage.put(key, b"x")


def test_s3_objects_land_under_the_prefix_with_their_type(s3):
    storage, client, bucket = s3
    storage.put("lessons/2/video.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    head = client.head_object(Bucket=bucket, Key="lms/lessons/2/video.mp4")
    assert head["ContentType"] == "video/mp4" and head["ContentLength"] == 12


def test_local_storage_stays_inside_its_root(tmp_path):
    store = LocalStorage(tmp_path / "root")
    store.put("a/b.txt", b"hi")
    assert (tmp_path / "root" / "a" / "b.txt").read_bytes() == b"hi"
    assert not any(p.name.startswith(".") for p in (tmp_path / "root" / "a").iterdir())  # no temp files left
