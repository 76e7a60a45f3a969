"""The ``web`` process's garbage collector, set for what a request allocates.

CPython runs its youngest collection every 700 net allocations of container objects
(dicts, lists, …). A batch of 100 messages parses into about a thousand of them, alive
until it is answered, so under load every request set off several young collections:
each walked the live requests' objects and moved them to an older generation, whose
collections walked them again beside everything the app keeps (about 120,000 objects
once it has loaded); a profile of Segment batches put a large share of a worker's CPU
into them (docs/development.md). Yet a parsed body holds no reference cycles:
counting references frees it the moment its request ends, and no collection is
needed to find it. So, in each
worker once the app has loaded:

- :func:`gc.freeze` moves what the app keeps for its whole life out of every later
  collection;
- the youngest generation is collected every :data:`YOUNG_THRESHOLD` allocations: room
  for the bodies of all of a worker's threads at once, so their objects are normally
  freed before any collection walks them.

The trade-off: garbage in a reference cycle (an exception and its traceback, say)
waits for up to that many allocations, instead of 700, before it is found, a few MB
at most. The older generations keep CPython's defaults.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_collector() -> None:
    """Freeze what exists now and collect the youngest generation less often."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
