"""``policywatch demo``: the whole product on real policy histories, on one machine, offline.

Parts usable on their own (tests, benchmarks): :mod:`.site` (the local website),
:mod:`.mailbox` (SMTP server + Maildir), :mod:`.webhook_receiver` (signed webhooks).
"""
