"""`taskchat chat`: a terminal client that signs in with a development token."""

import argparse
import sys

import httpx2


def run(args: argparse.Namespace) -> None:
    token = args.token
    if not token:
        from common.devkeys import mint_token
        from common.settings import get_settings

        token = mint_token(get_settings(), args.user)
    headers = {"Authorization": f"Bearer {token}"}
    conversation_id = None
    print(f"taskchat — chatting as {args.user} on {args.url}. Empty line or Ctrl-D quits.")
    with httpx2.Client(base_url=args.url, headers=headers, timeout=120) as http:
        while True:
            try:
                line = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not line:
                break
            response = http.post(
                f"/api/{args.user}/chat", json={"message": line, "conversation_id": conversation_id}
            )
            body = response.json()
            if response.status_code != 200:
                print(
                    f"error {response.status_code}: {body.get('error', {}).get('message')}", file=sys.stderr
                )
                continue
            conversation_id = body["conversation_id"]
            for call in body["tool_calls"]:
                print(f"  · {call['name']}({call['arguments']}) -> {call['status']}")
            print(f"taskchat> {body['response']}")
