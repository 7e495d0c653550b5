"""The ChatKit protocol (openai-chatkit) on POST /api/{user_id}/chat: threads are conversations, items are
messages, and `respond()` relays the worker's run events; the agent never runs in the API."""
