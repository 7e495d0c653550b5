"""`taskchat chat`: a terminal client that signs in with a token (in development, one it mints) and streams
answers."""

import argparse
import json
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2


class Refused(Exception):
    """The server answered, but not with what a chat needs; the message says why in one line."""


def run(args: argparse.Namespace) -> None:
    token = args.token
    if not token:
        from common.devkeys import mint_token
        from common.errors import ConfigError
        from common.settings import get_settings

        try:
            token = mint_token(get_settings(), args.user)
        except ConfigError as exc:
            sys.exit(f"taskchat chat: give a token with --token or TASKCHAT_TOKEN ({exc})")
    conversation_id = None
    try:
        with httpx2.Client(
            base_url=args.url, headers={"Authorization": f"Bearer {token}"}, timeout=300
        ) as http:
            # Token and address are checked before the first prompt, not after the first message.
            _check(http.get(f"/api/{args.user}/conversations", params={"limit": 1}))
            print(f"taskchat — chatting as {args.user} on {args.url}. Empty line or Ctrl-D quits.")
            while True:
                try:
                    line = input("you> ").strip()
                except (EOFError, KeyboardInterrupt):
                    print()
                    break
                if not line:
                    break
                conversation_id = _turn(http, args.user, line, conversation_id)
    except httpx2.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        sys.exit(f"taskchat chat: cannot reach {args.url} ({reason}); is taskchat running there? (--url)")
    except Refused as exc:
        sys.exit(f"taskchat chat: {exc}")


def _check(response: httpx2.Response) -> None:
    if response.status_code < 400:
        return
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.reason_phrase
    if response.status_code == 401:
        raise Refused(
            f"the server refused the token: {message} Use the one `taskchat dev` printed (--token or "
            "TASKCHAT_TOKEN)."
        )
    if response.status_code == 403:
        raise Refused(f"{message} (--user must be the token's user.)")
    raise Refused(f"{response.status_code} from {response.url}: {message}")


def _turn(http: httpx2.Client, user: str, message: str, conversation_id: int | None) -> int | None:
    headers = {"Accept": "text/event-stream", "Idempotency-Key": uuid.uuid4().hex}
    body = {"message": message, "conversation_id": conversation_id}
    with http.stream("POST", f"/api/{user}/chat", json=body, headers=headers) as response:
        if response.status_code in (401, 403):
            response.read()
            _check(response)
        if response.status_code != 200:
            try:
                error = json.loads(response.read()).get("error", {})
            except ValueError:
                error = {}
            print(
                f"error {response.status_code}: {error.get('message', response.reason_phrase)}",
                file=sys.stderr,
            )
            return conversation_id
        writing = False
        for event, data in _events(response.iter_lines()):
            if event == "run":
                conversation_id = data["conversation_id"]
            elif event == "status" and data.get("state") == "waiting":
                print(f"  … {data['message']}")
            elif event == "tool_call":
                print(f"  · {data['name']}({json.dumps(data['arguments'], ensure_ascii=False)})")
            elif event == "delta":
                if not writing:
                    print("taskchat> ", end="")
                    writing = True
                print(data["text"], end="", flush=True)
            elif event == "done":
                print()
            elif event == "error":
                print(f"\nerror: {data['message']}", file=sys.stderr)
    return conversation_id


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    event, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
