"""Talking to the model: instructor over the openai client, with retries, a budget, a cache and cost.

Everything provider-specific is in LLMConfig (base URL, model, key, mode); this module treats every
endpoint alike. Transport failures (timeouts, 429, 5xx) are retried by tenacity with exponential
backoff and jitter, honouring Retry-After; replies that fail validation are re-asked by instructor
within `max_retries`; every call's tokens count toward the report's usage and the run's budget.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import re
import threading
import time
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import instructor
import openai
from instructor.core import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from nianbao.errors import StopRun
from nianbao.extract.llm_config import LLMConfig

MODE_MAP = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "json_object_schema": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}


# instructor logs every failed attempt at ERROR; re-asks are expected here and reported in usage
logging.getLogger("instructor").setLevel(logging.CRITICAL)


class LLMError(RuntimeError):
    """A model call that could not be completed; str() is one line."""


class LLMTransportError(LLMError):
    """The endpoint did not answer usefully after every transport retry."""


class BudgetExceeded(LLMError, StopRun):
    """The run's token budget is spent: the run stops rather than overspend."""


@dataclass
class Usage:
    """Tokens and calls of one report (retries and re-asks included)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached_calls: int = 0
    transport_retries: int = 0
    reasks: int = 0
    sent_chars: int = 0  # characters of report text put in prompts (what hybrid saves)
    fallbacks: int = 0  # calls whose reply never validated

    def add(self, other: Usage) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def as_dict(self, *, model: str, prompt_version: str, seconds: float) -> dict[str, Any]:
        return {
            "calls": self.calls, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "cost_usd": round(self.cost_usd, 6),
            "model": model, "prompt_version": prompt_version,
            "cached": self.calls == 0 and self.cached_calls > 0, "cached_calls": self.cached_calls,
            "seconds": round(seconds, 3), "transport_retries": self.transport_retries,
            "reasks": self.reasks, "sent_chars": self.sent_chars, "fallbacks": self.fallbacks,
        }


class TokenBudget:
    """A per-run ceiling on tokens, shared by every report and thread of one run."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def check(self) -> None:
        if self.limit is not None and self.used >= self.limit:
            raise BudgetExceeded(f"token budget of {self.limit} exhausted ({self.used} tokens used); "
                                 "raise NIANBAO_TOKEN_BUDGET or token_budget in the config to go on")

    def charge(self, tokens: int) -> None:
        with self._lock:
            self.used += tokens


@cache
def _prices() -> dict[str, dict[str, float]]:
    text = resources.files("nianbao").joinpath("data", "prices.toml").read_text(encoding="utf-8")
    return tomllib.loads(text).get("models", {})


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """Cost from the editable price table: exact model name, else the longest listed prefix, else 0."""
    prices = _prices()
    entry = prices.get(model)
    if entry is None:
        prefixes = [m for m in prices if model.startswith(m)]
        entry = prices[max(prefixes, key=len)] if prefixes else {}
    return (prompt_tokens * float(entry.get("prompt", 0)) + completion_tokens * float(entry.get("completion", 0))) / 1000


class ResponseCache:
    """Validated replies on disk, keyed by model, prompt version, schema and the exact messages."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @staticmethod
    def key(*parts: str) -> str:
        h = hashlib.sha256()
        for p in parts:
            h.update(p.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        if self.directory is None:
            return None
        path = self.directory / key[:2] / f"{key}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self.directory is None:
            return
        path = self.directory / key[:2] / f"{key}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a cache that cannot be written only costs a re-run


@dataclass
class CallResult:
    """One structured call: the validated reply, or the last unvalidated reply as a fallback."""

    parsed: BaseModel | None
    raw: dict[str, Any] | None = None
    usage: Usage = field(default_factory=Usage)
    error: str | None = None  # why the reply never validated (last reason)
    cached: bool = False


def _transport_error(e: BaseException | None) -> BaseException | None:
    """The retryable transport error behind `e` (instructor wraps what the client raised)."""
    seen = 0
    while e is not None and seen < 5:
        if isinstance(e, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                          openai.InternalServerError)):
            return e
        if isinstance(e, openai.APIStatusError) and e.status_code >= 500:
            return e
        e = e.__cause__ or e.__context__
        seen += 1
    return None


def retry_after_seconds(e: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or HTTP date, or retry-after-ms)."""
    resp = getattr(e, "response", None)
    headers = getattr(resp, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(ra)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _raw_reply(completion: Any) -> dict[str, Any] | None:
    """The JSON object in a completion, whatever the mode (tool call arguments or message text)."""
    try:
        msg = completion.choices[0].message
    except (AttributeError, IndexError):
        return None
    texts = []
    for call in getattr(msg, "tool_calls", None) or []:
        texts.append(call.function.arguments)
    if msg.content:
        texts.append(msg.content)
    for text in texts:
        m = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
        body = m.group(1) if m else text
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            continue
        try:
            data = json.loads(body[start:end + 1])
        except ValueError:
            data = _close_truncated(body[start:])
        if isinstance(data, dict):
            return data
    return None


def _close_truncated(body: str) -> Any:
    """A reply cut off mid-way, closed after its last complete value (a partial answer beats none)."""
    for cut in [i for i, ch in enumerate(body) if ch in "}]"][::-1][:50]:
        head = body[:cut + 1]
        stack: list[str] = []
        in_str = esc = False
        for ch in head:
            if in_str:
                esc, in_str = (False, in_str) if esc else (ch == "\\", ch != '"')
                continue
            if ch == '"':
                in_str = True
            elif ch in "{[":
                stack.append("}" if ch == "{" else "]")
            elif ch in "}]" and stack:
                stack.pop()
        try:
            return json.loads(head + "".join(reversed(stack)))
        except ValueError:
            continue
    return None


def _reason(e: BaseException) -> str:
    """The first validation message behind an exhausted re-ask, in one line."""
    cause = e.__cause__
    if isinstance(cause, ValidationError) and cause.errors():
        err = cause.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ()))
        return f"{where}: {err.get('msg', '')}"[:300]
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]


def _usage_of(total: Any) -> tuple[int, int]:
    if total is None:
        return 0, 0
    return int(getattr(total, "prompt_tokens", 0) or 0), int(getattr(total, "completion_tokens", 0) or 0)


class LLMClient:
    """One endpoint, used by every report of a run (shared budget, cache and concurrency limit)."""

    def __init__(self, cfg: LLMConfig, budget: TokenBudget | None = None) -> None:
        self.cfg = cfg
        self.budget = budget or TokenBudget(cfg.token_budget)
        self.cache = ResponseCache(cfg.cache_dir)
        self._slots = threading.BoundedSemaphore(max(1, cfg.concurrency))
        self._openai = openai.OpenAI(base_url=cfg.base_url, api_key=cfg.api_key or "not-needed", timeout=cfg.timeout,
                                     max_retries=0)
        self._client = instructor.from_openai(self._openai, mode=MODE_MAP[cfg.mode])
        self._local = threading.local()  # model replies seen by this thread's current call
        self._client.on("completion:response", self._count_reply)

    def _count_reply(self, *_: Any, **__: Any) -> None:
        self._local.replies = getattr(self._local, "replies", 0) + 1

    def _wait(self, state: RetryCallState) -> float:
        base = float(self.cfg.extra.get("backoff_initial", 1.0))
        backoff = (wait_exponential(multiplier=base, max=self.cfg.backoff_max) + wait_random(0, base))(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(_transport_error(exc))
        if asked is not None:
            return min(max(asked, backoff), max(self.cfg.backoff_max, asked if asked <= 300 else 300))
        return backoff

    def structured(self, response_model: type[BaseModel], messages: list[dict[str, str]], *,
                   source: str, prompt_version: str) -> CallResult:
        """Ask for `response_model`; quotes are validated against `source`."""
        context = {"source": source}
        key = ResponseCache.key(self.cfg.model, prompt_version, self.cfg.mode, response_model.__name__,
                                json.dumps(messages, ensure_ascii=False, sort_keys=True))
        hit = self.cache.get(key)
        if hit is not None and "fallback" in hit:  # the same question got a reply that never validated
            return CallResult(parsed=None, raw=hit["fallback"], error=hit.get("error"), cached=True,
                              usage=Usage(cached_calls=1, fallbacks=1))
        if hit is not None:
            try:
                parsed = response_model.model_validate(hit["reply"], context=context)
                return CallResult(parsed=parsed, usage=Usage(cached_calls=1), cached=True)
            except (ValidationError, KeyError, TypeError):
                pass
        usage = Usage()
        kwargs: dict[str, Any] = {"model": self.cfg.model, "messages": messages, "response_model": response_model,
                                  "max_retries": self.cfg.max_retries, "context": context, "temperature": 0,
                                  "max_tokens": self.cfg.max_tokens}
        if self.cfg.mode == "json_object_schema":
            # llama.cpp's server constrains decoding with a schema given inside response_format
            kwargs["extra_body"] = {"response_format": {"type": "json_object",
                                                        "schema": response_model.model_json_schema()}}

        def attempt() -> BaseModel:
            self.budget.check()
            self._local.replies = 0
            with self._slots:
                try:
                    result = self._client.chat.completions.create(**kwargs)
                except (InstructorRetryException, IncompleteOutputException) as e:
                    p, c = _usage_of(getattr(e, "total_usage", None) or getattr(
                        getattr(e, "last_completion", None), "usage", None))
                    self._charge(usage, p, c, self._local.replies)
                    raise
            p, c = _usage_of(getattr(result, "_total_usage", None) or getattr(
                getattr(result, "_raw_response", None), "usage", None))
            self._charge(usage, p, c, self._local.replies)
            usage.reasks += max(0, self._local.replies - 1)
            return result

        retrying = Retrying(
            stop=stop_after_attempt(max(1, self.cfg.transport_retries)),
            wait=self._wait,
            retry=retry_if_exception(lambda e: _transport_error(e) is not None),
            reraise=True,
            before_sleep=lambda s: setattr(usage, "transport_retries", usage.transport_retries + 1),
        )
        try:
            parsed = retrying(attempt)
        except BudgetExceeded:
            raise
        except InstructorRetryException as e:
            cause = _transport_error(e)
            if cause is not None:
                raise LLMTransportError(self._describe(cause)) from None
            usage.reasks += max(0, int(e.n_attempts or 1) - 1)
            return self._fallback(key, prompt_version, _raw_reply(e.last_completion), _reason(e), usage)
        except IncompleteOutputException as e:
            return self._fallback(key, prompt_version, _raw_reply(e.last_completion),
                                  "reply cut off at max_tokens", usage)
        except openai.APIError as e:
            cause = _transport_error(e)
            raise LLMTransportError(self._describe(cause or e)) from None
        self.cache.put(key, {"model": self.cfg.model, "prompt_version": prompt_version,
                             "reply": parsed.model_dump(mode="json")})
        return CallResult(parsed=parsed, usage=usage)

    def _fallback(self, key: str, prompt_version: str, raw: dict[str, Any] | None, error: str,
                  usage: Usage) -> CallResult:
        """A reply that never validated: kept (and cached, so a re-run costs nothing) for grounding to judge."""
        usage.fallbacks += 1
        self.cache.put(key, {"model": self.cfg.model, "prompt_version": prompt_version, "fallback": raw,
                             "error": error})
        return CallResult(parsed=None, raw=raw, usage=usage, error=error)

    def _charge(self, usage: Usage, prompt: int, completion: int, calls: int) -> None:
        usage.calls += calls
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        usage.cost_usd += cost_usd(self.cfg.model, prompt, completion)
        self.budget.charge(prompt + completion)

    def _describe(self, e: BaseException) -> str:
        n = max(1, self.cfg.transport_retries)
        where = f"{self.cfg.base_url} ({self.cfg.model})"
        if isinstance(e, openai.APITimeoutError):
            return f"{where}: no reply within {self.cfg.timeout:g}s, {n} attempts"
        if isinstance(e, openai.RateLimitError):
            return f"{where}: rate limited (429) on all {n} attempts"
        if isinstance(e, openai.APIConnectionError):
            return f"{where}: cannot connect ({n} attempts)"
        if isinstance(e, openai.APIStatusError):
            return f"{where}: HTTP {e.status_code} on all {n} attempts" if _transport_error(e) else \
                f"{where}: HTTP {e.status_code}: {str(e.message).splitlines()[0][:200]}"
        return f"{where}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
