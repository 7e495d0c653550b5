"""A slow fake Gemini (OpenAI-compatible Chat Completions) in its own process, for the slow-model
benchmark: every call waits `--delay` seconds, then calls add_task once and answers."""

import argparse
import threading

from tests.fake_llm import FakeLLM, tool_then_text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=3.0)
    args = parser.parse_args()
    fake = FakeLLM(
        tool_then_text("add_task", {"title": "Slow task"}, "Added “Slow task”."), delay_s=args.delay
    )
    fake.requests = _Discard()  # 1,000 recorded bodies are of no use here
    fake.port = args.port
    from tests.helpers import ServerThread

    with ServerThread(fake.app, args.port):
        threading.Event().wait()


class _Discard(list):  # type: ignore[type-arg]
    def append(self, item: object) -> None:
        pass


if __name__ == "__main__":
    main()
