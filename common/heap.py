"""The garbage collector after start-up.

A process holds a few hundred thousand objects after its imports and its set-up (the Agents SDK,
openai's types, SQLAlchemy's and pydantic's schemas), none of which ever becomes garbage. `gc.freeze()`
moves them to a generation the collector never scans.

What a chat allocates is then almost all freed by reference counting; the collector is only for cycles.
With Python's default threshold (a young collection every 700 net allocations, a full one every 100 young
ones) hundreds of runs in flight made it collect a thousand times in ten seconds, and each full collection
walked every object those runs held: a fifth of the worker's CPU and a third of the API's under 500
chats at once (docs/performance.md, #19.4). A young collection every 20,000 keeps the collector's work
for cycles and makes a full one rare.
"""

import gc

YOUNG_THRESHOLD = 20_000


def freeze_startup_heap() -> None:
    """Call once start-up is done: what exists now lives as long as the process."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
