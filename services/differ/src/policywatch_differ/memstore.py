"""An in-memory :class:`ObjectStore` for offline replay (``policywatch replay``, ``diff``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from policywatch_shared.storage import CHUNK, ObjectNotFound, ObjectStore, StoredObject


class MemoryStore(ObjectStore):
    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, StoredObject]] = {}

    async def get_bytes(self, key: str) -> bytes:
        try:
            return self._data[key][0]
        except KeyError:
            raise ObjectNotFound(key) from None

    async def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        data = await self.get_bytes(key)
        for i in range(0, len(data), chunk_size):
            yield data[i : i + chunk_size]

    async def stat(self, key: str) -> StoredObject | None:
        got = self._data.get(key)
        return got[1] if got else None

    async def list_keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._data if k.startswith(prefix))

    async def list_stamps(self, prefix: str = "") -> dict[str, str]:
        return {k: obj.sha256 for k, (_, obj) in self._data.items() if k.startswith(prefix)}

    async def stamp(self, key: str) -> str | None:
        got = self._data.get(key)
        return got[1].sha256 if got else None

    async def ping(self) -> None:
        return None

    async def _put(self, key: str, data: bytes, obj: StoredObject) -> None:
        self._data[key] = (data, obj)

    async def _put_file(self, key: str, path: Path, obj: StoredObject) -> None:
        self._data[key] = (await asyncio.to_thread(path.read_bytes), obj)
