"""policywatch fetcher: catalog, scheduling, HTTP and browser capture into object storage.

Library use (the demo, tools)::

    from policywatch_fetcher.capture import capture
    page = await capture("https://example.com/privacy", allow_private=False)
"""
