"""A deterministic model of our own that understands everyday task requests.

Structure:
- `language` turns a message into intents, with `text` (quotes, politeness), `clause` (one command's
  grammar, tried in order), `moods` (questions, hedges, hypotheticals and refusals around a request),
  `adding`, `changes`, `scheduling`, `listing` and `references` (the grammars per concern) and
  `vocabulary` (shared word lists);
- `dialogue` reads the message in its conversation (a yes to an offer, the answer to a question back);
- `resolve` matches task references against the user's tasks, `conversation` holds what earlier turns
  said about them;
- `planning` turns each intent into tool calls or an answer, `replies` writes the answer, and `model`
  drives the steps through the Agents SDK's `Model` interface, calling the tools like any model would.
"""

from worker.offline.model import OfflineModel

__all__ = ["OfflineModel"]
