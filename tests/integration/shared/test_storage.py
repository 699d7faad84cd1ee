"""Object storage against a real S3 API (moto server) and the local directory backend."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path

import pytest
from policywatch_shared.net import free_port
from policywatch_shared.storage import LocalStore, ObjectNotFound, ObjectStore, S3Store, StorageUnavailable

pytestmark = pytest.mark.timeout(120)


def _s3(s3_server, **kw) -> S3Store:  # type: ignore[no-untyped-def]
    return S3Store(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, s3_server.bucket, **kw)


@pytest.fixture(params=["s3", "local"])
def store(request: pytest.FixtureRequest, s3_server, tmp_path: Path) -> ObjectStore:  # type: ignore[no-untyped-def]
    return _s3(s3_server) if request.param == "s3" else LocalStore(tmp_path / "store")


async def test_put_get_stat_roundtrip(store: ObjectStore) -> None:
    data = f"<html>policy {uuid.uuid4()}</html>".encode()
    obj = await store.put_bytes(
        data, namespace="captures", content_type="text/html", metadata={"document": "a/b"}
    )
    sha = hashlib.sha256(data).hexdigest()
    assert obj.key == f"captures/{sha[:2]}/{sha}"
    assert await store.get_bytes(obj.key) == data
    st = await store.stat(obj.key)
    assert st is not None and st.size == len(data) and st.sha256 == sha
    assert st.content_type == "text/html" and st.metadata.get("document") == "a/b"
    again = await store.put_bytes(data, namespace="captures")  # content-addressed: idempotent
    assert again.key == obj.key
    assert obj.key in await store.list_keys("captures/")
    assert await store.stat("captures/00/missing") is None
    with pytest.raises(ObjectNotFound):
        await store.get_bytes("captures/00/missing")


async def test_named_objects_overwrite(store: ObjectStore) -> None:
    key = f"state/{uuid.uuid4().hex}.json"
    await store.put_json(key, {"v": 1})
    await store.put_json(key, {"v": 2})
    assert await store.get_json(key) == {"v": 2}
    assert await store.get_json(key + ".missing", default={}) == {}


async def test_large_object_streams(store: ObjectStore, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    obj = await store.put_file(big, namespace="pdf", content_type="application/pdf")
    digest = hashlib.sha256()
    chunks = 0
    async for chunk in store.iter_chunks(obj.key, chunk_size=256 * 1024):
        digest.update(chunk)
        chunks += 1
    assert digest.hexdigest() == obj.sha256 and chunks > 1


async def test_s3_outage_is_retried_not_lost(s3_server) -> None:  # type: ignore[no-untyped-def]
    """A second S3 server on its own port goes down for ~3 s mid-write: the write waits and lands."""
    from minio import Minio
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        Minio(f"127.0.0.1:{port}", access_key="k", secret_key="s", secure=False).make_bucket("outage")
        store = S3Store(f"127.0.0.1:{port}", "k", "s", "outage", retry_budget_s=20)
        await store.ping()
        server.stop()
        with pytest.raises(StorageUnavailable):
            await S3Store(f"127.0.0.1:{port}", "k", "s", "outage").ping()

        async def restart_later() -> None:
            await asyncio.sleep(3)
            server.start()

        restarter = asyncio.create_task(restart_later())
        obj = await store.put_bytes(b"written during an outage", namespace="captures")
        await restarter
        assert await store.get_bytes(obj.key) == b"written during an outage"

        server.stop()
        short = S3Store(f"127.0.0.1:{port}", "k", "s", "outage", retry_budget_s=1)
        with pytest.raises(StorageUnavailable):  # past the budget: a clear transient error, never silence
            await short.put_bytes(b"x", namespace="captures")
    finally:
        try:
            server.stop()
        except Exception:
            pass


async def test_stamps_change_when_an_object_is_rewritten(store: ObjectStore) -> None:
    prefix = f"state/{uuid.uuid4().hex}/"
    await store.put_named(prefix + "a.json", b'{"v": 1}')
    await store.put_named(prefix + "b.json", b'{"v": 1}')
    await store.put_bytes(b"elsewhere", namespace="captures")
    first = await store.list_stamps(prefix)
    assert sorted(first) == [prefix + "a.json", prefix + "b.json"]
    await store.put_named(prefix + "a.json", b'{"v": 2}')  # same size, new content
    second = await store.list_stamps(prefix)
    assert second[prefix + "a.json"] != first[prefix + "a.json"]
    assert second[prefix + "b.json"] == first[prefix + "b.json"]
    assert await store.list_stamps(prefix + "missing/") == {}
    # What a writer records after its own write is what the next listing shows.
    assert await store.stamp(prefix + "a.json") == second[prefix + "a.json"]
    assert await store.stamp(prefix + "missing.json") is None
