"""Error classes every service shares.

The broker middleware treats a :class:`TransientError` differently from any other
exception: an outage (storage, database, broker) is retried until it is over, so
nothing is dead-lettered just because a dependency was down for 30 seconds; any
other exception is retried a few times and then dead-lettered.
"""

from __future__ import annotations


class TransientError(Exception):
    """A dependency is unavailable; the same work will succeed later."""


class PermanentError(Exception):
    """The input itself is bad; retrying cannot help (goes straight to the dead-letter topic)."""
