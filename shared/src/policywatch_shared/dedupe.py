"""Bounded memory of processed event ids.

Delivery is at-least-once (offsets are committed after processing), so a
restart may redeliver the last messages; consumers skip ids they have seen.
Durable de-duplication (across restarts) belongs to each service's own state
(content-addressed objects, version index, delivery ledger); this set only
saves repeated work within one process.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    def __init__(self, maxlen: int = 10_000) -> None:
        self.maxlen = maxlen
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.maxlen:
            self._ids.popitem(last=False)
