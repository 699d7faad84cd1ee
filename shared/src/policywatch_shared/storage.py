"""Object storage: one async interface, two backends.

* :class:`S3Store` — any S3 API (MinIO in production) through the ``minio`` SDK.
* :class:`LocalStore` — a local directory, the embedded default.

Raw captures and versions are stored under content-addressed keys
``{namespace}/{sha[:2]}/{sha256}``: writing the same bytes twice is a no-op, so a
redelivered message never creates a second object. Mutable objects (indexes,
state) use :meth:`ObjectStore.put_named`.

Outages: the minio SDK raises urllib3 errors (not only ``S3Error``) when the
server is down; every call is retried with exponential backoff and, when the
outage lasts longer than the retry budget, raises :class:`StorageUnavailable`
(a :class:`~policywatch_shared.errors.TransientError`, which the broker
middleware retries without dead-lettering).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import os
import stat
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from policywatch_shared.errors import TransientError

if TYPE_CHECKING:
    from policywatch_shared.settings import ServiceSettings

log = logging.getLogger("policywatch.storage")

T = TypeVar("T")
CHUNK = 256 * 1024


class ObjectNotFound(KeyError):
    """No object under this key."""


class StorageUnavailable(TransientError):
    """The object store did not answer within the retry budget."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)


def content_key(namespace: str, sha256: str) -> str:
    return f"{namespace.strip('/')}/{sha256[:2]}/{sha256}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ObjectStore(ABC):
    """Async object store. Subclasses implement the ``_``-prefixed primitives."""

    async def put_bytes(
        self,
        data: bytes,
        *,
        namespace: str,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        """Store ``data`` under its content address (idempotent)."""
        sha = sha256_hex(data)
        key = content_key(namespace, sha)
        existing = await self.stat(key)
        if existing is not None:
            return existing
        obj = StoredObject(key, sha, len(data), content_type, dict(metadata or {}))
        await self._put(key, data, obj)
        return obj

    async def put_file(
        self,
        path: Path | str,
        *,
        namespace: str,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        """Store a (possibly large) file by content address without loading it in memory."""
        path = Path(path)

        def file_sha() -> str:
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    digest.update(chunk)
            return digest.hexdigest()

        sha = await asyncio.to_thread(file_sha)
        key = content_key(namespace, sha)
        existing = await self.stat(key)
        if existing is not None:
            return existing
        obj = StoredObject(key, sha, path.stat().st_size, content_type, dict(metadata or {}))
        await self._put_file(key, path, obj)
        return obj

    async def put_named(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        """Store a mutable object under a chosen key (overwrites)."""
        obj = StoredObject(key, sha256_hex(data), len(data), content_type, dict(metadata or {}))
        await self._put(key, data, obj)
        return obj

    async def get_json(self, key: str, default: Any = None) -> Any:
        try:
            return json.loads(await self.get_bytes(key))
        except ObjectNotFound:
            return default

    async def put_json(self, key: str, value: Any) -> StoredObject:
        return await self.put_named(
            key, json.dumps(value, sort_keys=True, default=str).encode(), content_type="application/json"
        )

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    @abstractmethod
    async def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]: ...

    @abstractmethod
    async def stat(self, key: str) -> StoredObject | None: ...

    @abstractmethod
    async def list_keys(self, prefix: str = "") -> list[str]: ...

    @abstractmethod
    async def list_stamps(self, prefix: str = "") -> dict[str, str]:
        """Key -> a stamp that changes whenever the object is overwritten (S3: the ETag), in one
        listing: lets a reader find what other processes rewrote without reading every object."""

    @abstractmethod
    async def stamp(self, key: str) -> str | None:
        """The stamp ``list_stamps`` shows for ``key`` now (None: no such object); a writer
        records its own write's stamp so that its next listing does not read it back."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise :class:`StorageUnavailable` unless the store answers."""

    @abstractmethod
    async def _put(self, key: str, data: bytes, obj: StoredObject) -> None: ...

    @abstractmethod
    async def _put_file(self, key: str, path: Path, obj: StoredObject) -> None: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (nothing for the built-in backends)."""


# --------------------------------------------------------------------------- local


def _stamp_of(st: os.stat_result) -> str:
    # Writes go to a temporary file renamed into place, so an overwrite changes the inode even
    # within one mtime tick.
    return f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"


class LocalStore(ObjectStore):
    """Objects as files under ``root``; metadata in a ``.meta.json`` sidecar.

    Writes go to a temporary file then ``os.replace`` so a crash never leaves a
    half-written object under its final key.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"invalid object key {key!r}")
        return self.root / key

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(path.name + ".meta.json")

    def _write(self, path: Path, write: Callable[[io.BufferedWriter], None], obj: StoredObject) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)  # type: ignore[arg-type]
            meta = {"sha256": obj.sha256, "content_type": obj.content_type, "metadata": obj.metadata}
            self._meta_path(path).write_text(json.dumps(meta))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def _put(self, key: str, data: bytes, obj: StoredObject) -> None:
        await asyncio.to_thread(self._write, self._path(key), lambda fh: fh.write(data), obj)  # type: ignore[arg-type,return-value]

    async def _put_file(self, key: str, path: Path, obj: StoredObject) -> None:
        def copy(fh: io.BufferedWriter) -> None:
            with path.open("rb") as src:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    fh.write(chunk)

        await asyncio.to_thread(self._write, self._path(key), copy, obj)

    async def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    async def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        with fh:
            while chunk := await asyncio.to_thread(fh.read, chunk_size):
                yield chunk

    async def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        try:
            meta = json.loads(self._meta_path(path).read_text())
        except (FileNotFoundError, ValueError):
            meta = {}
        return StoredObject(
            key,
            meta.get("sha256", ""),
            size,
            meta.get("content_type", "application/octet-stream"),
            meta.get("metadata", {}),
        )

    def _walk(self, prefix: str) -> list[tuple[str, os.stat_result]]:
        """(key, stat) of each stored object under ``prefix``, sorted by key: one stat per file."""
        # Walk only below the prefix's directory: the root also holds every raw capture.
        base = self.root.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else self.root
        if not base.exists():
            return []
        found = []
        for p in base.rglob("*"):
            if p.name.endswith(".meta.json") or p.name.startswith(".tmp-"):
                continue
            try:
                st = p.stat()
            except (FileNotFoundError, NotADirectoryError):  # removed while walking (as is_file)
                continue
            if stat.S_ISREG(st.st_mode):
                key = p.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append((key, st))
        return sorted(found, key=lambda kv: kv[0])

    async def list_keys(self, prefix: str = "") -> list[str]:
        return [key for key, _ in await asyncio.to_thread(self._walk, prefix)]

    async def list_stamps(self, prefix: str = "") -> dict[str, str]:
        return {key: _stamp_of(st) for key, st in await asyncio.to_thread(self._walk, prefix)}

    async def stamp(self, key: str) -> str | None:
        return await asyncio.to_thread(self._stamp, key)

    def _stamp(self, key: str) -> str | None:
        try:
            return _stamp_of(self._path(key).stat())
        except FileNotFoundError:
            return None

    async def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"local store {self.root}: {exc}") from exc


# --------------------------------------------------------------------------- S3


class S3Store(ObjectStore):
    """Objects in an S3 bucket through the minio SDK (run in threads: the SDK is sync)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str = "us-east-1",
        retry_budget_s: float = 20.0,
        create_bucket: bool = True,
    ) -> None:
        import urllib3
        from minio import Minio

        # Short urllib3 timeouts and no urllib3-level retries: our own loop decides (and logs).
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2.0, read=30.0), retries=False, maxsize=16)
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self.bucket = bucket
        self.retry_budget_s = retry_budget_s
        self._create_bucket = create_bucket
        self._bucket_ready = False

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run a blocking SDK call with retries on outages (not on S3 errors such as NoSuchKey)."""
        from minio.error import S3Error

        delay = 0.2
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_budget_s
        while True:
            try:
                if not self._bucket_ready and self._create_bucket:
                    await asyncio.to_thread(self._ensure_bucket)
                return await asyncio.to_thread(fn)
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId"):
                    raise
                err: Exception = exc
            except Exception as exc:  # urllib3 MaxRetryError, ProtocolError, OSError … = outage
                if isinstance(exc, (ObjectNotFound, ValueError, TypeError)):
                    raise
                err = exc
            if loop.time() >= deadline:
                raise StorageUnavailable(f"S3 {what}: {type(err).__name__}: {err}") from err
            log.warning("S3 %s failed (%s); retrying in %.1fs", what, type(err).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except Exception as exc:  # created concurrently by another service
                if "BucketAlreadyOwnedByYou" not in str(exc) and "BucketAlreadyExists" not in str(exc):
                    raise
        self._bucket_ready = True

    @staticmethod
    def _meta(obj: StoredObject) -> dict[str, str | list[str] | tuple[str]]:
        meta: dict[str, str | list[str] | tuple[str]] = {"sha256": obj.sha256}
        meta.update({k: str(v) for k, v in obj.metadata.items()})
        return meta

    async def _put(self, key: str, data: bytes, obj: StoredObject) -> None:
        await self._call(
            f"put {key}",
            lambda: self.client.put_object(
                self.bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=obj.content_type,
                metadata=self._meta(obj),
            ),
        )

    async def _put_file(self, key: str, path: Path, obj: StoredObject) -> None:
        await self._call(
            f"put {key}",
            lambda: self.client.fput_object(
                self.bucket, key, str(path), content_type=obj.content_type, metadata=self._meta(obj)
            ),
        )

    @staticmethod
    def _not_found(exc: Exception) -> bool:
        from minio.error import S3Error

        return isinstance(exc, S3Error) and exc.code in ("NoSuchKey", "NoSuchBucket")

    async def get_bytes(self, key: str) -> bytes:
        def get() -> bytes:
            resp = self.client.get_object(self.bucket, key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        try:
            return await self._call(f"get {key}", get)
        except Exception as exc:
            if self._not_found(exc):
                raise ObjectNotFound(key) from None
            raise

    async def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        try:
            resp = await self._call(f"get {key}", lambda: self.client.get_object(self.bucket, key))
        except Exception as exc:
            if self._not_found(exc):
                raise ObjectNotFound(key) from None
            raise
        try:
            while chunk := await asyncio.to_thread(resp.read, chunk_size):
                yield chunk
        finally:
            resp.close()
            resp.release_conn()

    async def _stat_object(self, key: str) -> Any:
        """minio's stat of ``key``, or None when there is no such object."""
        try:
            return await self._call(f"stat {key}", lambda: self.client.stat_object(self.bucket, key))
        except Exception as exc:
            if self._not_found(exc):
                return None
            raise

    async def stat(self, key: str) -> StoredObject | None:
        st = await self._stat_object(key)
        if st is None:
            return None
        raw = {k.lower(): v for k, v in (st.metadata or {}).items()}
        user = {k[len("x-amz-meta-") :]: str(v) for k, v in raw.items() if k.startswith("x-amz-meta-")}
        sha = user.pop("sha256", "")
        return StoredObject(key, sha, int(st.size or 0), st.content_type or "application/octet-stream", user)

    async def list_keys(self, prefix: str = "") -> list[str]:
        return sorted(await self.list_stamps(prefix))  # one listing call for both

    async def stamp(self, key: str) -> str | None:
        st = await self._stat_object(key)
        return None if st is None else f"{st.etag}-{st.size}"

    async def list_stamps(self, prefix: str = "") -> dict[str, str]:
        def lst() -> dict[str, str]:
            return {
                o.object_name: f"{o.etag}-{o.size}"
                for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
                if o.object_name
            }

        return await self._call(f"list {prefix}", lst)

    async def ping(self) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self.client.bucket_exists, self.bucket), timeout=5)
        except Exception as exc:
            raise StorageUnavailable(f"S3 ping: {type(exc).__name__}: {exc}") from exc


def make_store(settings: ServiceSettings) -> ObjectStore:
    """The store the settings describe (``STORAGE_BACKEND=local|s3``)."""
    if settings.storage_backend == "s3":
        return S3Store(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
            retry_budget_s=settings.storage_retry_budget_s,
        )
    return LocalStore(settings.storage_dir)
