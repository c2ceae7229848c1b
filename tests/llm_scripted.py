"""A scripted OpenAI-compatible HTTP server for tests (a real http.server on 127.0.0.1).

It plays back a list of scripted replies, one per POST /v1/chat/completions, and records every
request body, so tests can produce what a weak local model cannot: a correct full table, a 429 with
Retry-After, a 5xx, a reply slower than the client's timeout. Replies it invents are named
"scripted" in their `model` field.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    respond: Callable[[dict[str, Any]], Reply] | None = None  # decide from the request instead


def requested_schema(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema a request asks for (json mode puts it in the system message)."""
    fmt = request.get("response_format") or {}
    if fmt.get("schema"):
        return fmt["schema"]
    for tool in request.get("tools") or []:
        return tool["function"]["parameters"]
    for m in request.get("messages", []):
        text = m.get("content") or ""
        i = text.find('{\n  "$defs"') if '"$defs"' in text else text.find('{\n  "description"')
        if i < 0:
            i = text.find('{\n  "properties"')
        if i >= 0:
            return json.JSONDecoder().raw_decode(text[i:])[0]
    return {}


def empty_answer(request: dict[str, Any]) -> Reply:
    """A valid reply to any table or narrative request that reads nothing (every row null)."""
    schema = requested_schema(request)
    props = schema.get("properties", {})
    if "claims" in props:
        return completion({"claims": []})
    return completion({name: None for name in props})


def completion(content: str | dict[str, Any], *, prompt_tokens: int = 100, completion_tokens: int = 20,
               tool: str | None = None) -> Reply:
    """A chat completion whose message holds `content` (as text, or as a tool call named `tool`)."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": text}}]}
    return Reply(body={
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()), "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def error(status: int, retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=status, body={"error": {"message": f"scripted {status}", "type": "scripted"}},
                 headers=headers)


class ScriptedServer:
    """Serves `replies` in order (the last one repeats); `requests` holds what the client sent."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                    reply = outer.replies.pop(0) if len(outer.replies) > 1 else outer.replies[0]
                if reply.respond is not None:
                    reply = reply.respond(body)
                if reply.delay:
                    time.sleep(reply.delay)
                data = json.dumps(reply.body or {}).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
