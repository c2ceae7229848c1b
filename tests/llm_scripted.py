"""A scripted OpenAI-compatible HTTP server for tests (a real http.server on 127.0.0.1).

It plays back a list of scripted replies, one per POST /v1/chat/completions, and records every
request body, so tests can produce what a weak local model cannot: a correct full table, a 429 with
Retry-After, a 5xx, a reply slower than the client's timeout. Replies it invents are named
"scripted" in their `model` field.
"""

from __future__ import annotations

import json
import re
import socket
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
               tool: str | None = None, model: str = "scripted", finish_reason: str | None = None) -> Reply:
    """A chat completion whose message holds `content` (as text, or as a tool call named `tool`).

    `model` is the name the server reports; `finish_reason="length"` makes a reply cut off at max_tokens.
    """
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": text}}]}
    return Reply(body={
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_reason or ("tool_calls" if tool else "stop")}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def error(status: int, retry_after: str | None = None, message: str | None = None) -> Reply:
    """An OpenAI-style error body; `message` is what the provider says (default "scripted <status>")."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=status, body={"error": {"message": message or f"scripted {status}", "type": "scripted"}},
                 headers=headers)


def model_list(*names: str) -> Reply:
    """GET /v1/models as an OpenAI-compatible server answers it."""
    return Reply(body={"object": "list", "data": [{"id": n, "object": "model", "owned_by": "scripted"}
                                                  for n in names or ("scripted",)]})


class ScriptedServer:
    """Serves `replies` in order (the last one repeats) to POSTs and `models` to GET /v1/models;
    `requests` holds the POST bodies the client sent, `gets` the paths it fetched."""

    def __init__(self, replies: list[Reply], models: Reply | None = None) -> None:
        self.replies = list(replies)
        self.models = models or model_list()
        self.requests: list[dict[str, Any]] = []
        self.gets: list[str] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with outer._lock:
                    outer.gets.append(self.path)
                reply = outer.models if self.path.rstrip("/").endswith("/models") else error(404)
                self._send(reply)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                    reply = outer.replies.pop(0) if len(outer.replies) > 1 else outer.replies[0]
                if reply.respond is not None:
                    reply = reply.respond(body)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
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


class ClosingServer:
    """A dead endpoint that can be counted: it accepts each TCP connection and closes it unanswered."""

    def __init__(self) -> None:
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def __enter__(self) -> ClosingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def free_port_url() -> str:
    """A loopback URL nothing listens on (connection refused), as when the model server is stopped."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


SHOWN = re.compile(r"<<<\n(.*)\n>>>", re.S)
LINE_PREFIX = re.compile(r"^(\d+)│", re.M)
NUMBER = re.compile(r"(?<![0-9.])[0-9]+(?:\.[0-9]+)?(?![0-9.、])")  # not ordinals (1. 2、)


def shown_lines(request: dict[str, Any]) -> list[tuple[int, str]]:
    """The numbered lines of the table text a request shows the model: (line number, text)."""
    user = next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user" and "<<<" in m["content"])
    body = SHOWN.search(user).group(1)
    out = []
    for raw in body.split("\n"):
        m = LINE_PREFIX.match(raw)
        if m:
            out.append((int(m.group(1)), raw[m.end():]))
        elif out:  # a line of the report text that itself holds "\n" cannot occur; keep it with the last
            out[-1] = (out[-1][0], out[-1][1] + "\n" + raw)
    return out


def perfect_reader(gold_cells: dict[str, Any]) -> Reply:
    """A reader that answers every table request the way a correct model would: each row's gold values,
    with the row's numbers copied as printed and the line they start on (rows taken in printed order)."""

    def respond(request: dict[str, Any]) -> Reply:
        schema = requested_schema(request)
        props = schema.get("properties", {})
        if "claims" in props:
            return completion({"claims": []})
        table = "t" + schema["title"][len("Table")]
        lines = shown_lines(request)
        flat, starts = "", []
        for number, text in lines:
            starts.append((len(flat), number))
            flat += text + "\n"
        tokens = [(m.start(), m.end(), float(m.group())) for m in NUMBER.finditer(flat)]
        answer: dict[str, Any] = {}
        cursor = 0
        for name in props:
            row = name.replace("__", ".")
            ref = props[name]["anyOf"][0]["$ref"].rsplit("/", 1)[-1]
            cols = [c for c in schema["$defs"][ref]["properties"] if c not in ("evidence", "line")]
            values = {c: gold_cells.get(f"{table}.{row}.{c}") for c in cols}
            wanted = [float(v) for v in values.values() if v is not None]
            if not wanted:
                answer[name] = None
                continue
            for i in range(cursor, len(tokens) - len(wanted) + 1):
                if [t[2] for t in tokens[i:i + len(wanted)]] == wanted:
                    s, e = tokens[i][0], tokens[i + len(wanted) - 1][1]
                    line = max(n for pos, n in starts if pos <= s)
                    answer[name] = {"line": line, "evidence": flat[s:e], **values}
                    cursor = i + len(wanted)
                    break
            else:
                answer[name] = {"line": None, "evidence": "", **dict.fromkeys(cols)}
        return completion(answer)

    return Reply(respond=respond)
