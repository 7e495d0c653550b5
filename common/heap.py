"""The garbage collector after start-up.

A worker process holds about 300,000 objects after its imports and its runtime (the Agents SDK, openai's
types, SQLAlchemy's and pydantic's schemas), none of which ever becomes garbage; every full collection
walked them all again, several times a second under hundreds of runs in flight. `gc.freeze()` moves
them to a generation the collector never scans (docs/performance.md, #19.4).
"""

import gc


def freeze_startup_heap() -> None:
    """Call once start-up is done: what exists now lives as long as the process."""
    gc.collect()
    gc.freeze()
