"""The garbage collector's settings in a server process (a `leadscore serve` worker, its rescoring
process).

CPython's cyclic collector runs after every 700 net allocations of container objects, and now and
then walks the whole heap. A bulk request of 10,000 events allocates a few hundred thousand short-
lived containers (parsed JSON, events, rows), which nearly all die by reference counting, so those
collections find next to nothing, yet they took 8 to 10 of its 28 µs per event (benchmarks:
`benchmarks/api_load.py`, bulk). Two settings, applied once the process has loaded what it keeps
(the app, the model, the store's metadata):

- `gc.freeze()` moves everything alive at that point out of the collector's generations, so the
  full collections no longer walk the long-lived heap of the process;
- the youngest generation is collected after 50,000 allocations rather than 700, so a bulk request
  meets a few collections instead of hundreds. Cyclic garbage (rare here: tracebacks, mostly) waits
  a little longer to be reclaimed; what reference counting frees is freed at once as before.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Freeze the heap loaded so far and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
