"""A deterministic model of our own that understands everyday task requests.

Structure: `language` turns a message into intents (intent recognition and slot extraction) with the
help of `text` (quotes, politeness), `clause` (one command's grammar, tried in order), `adding`,
`changes`, `listing` and `references` (the grammars per concern) and `vocabulary` (shared word lists);
`resolve` matches task references against the user's tasks and the conversation, `replies` writes
the answer, and `model` drives the steps through the Agents SDK's `Model` interface, calling the MCP
tools like any model would.
"""

from worker.offline.model import OfflineModel

__all__ = ["OfflineModel"]
