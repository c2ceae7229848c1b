"""Talking to the model: instructor over the openai client, within a run's budget and deadline.

Who does what:
- the openai client retries what is worth retrying (timeouts, connection errors, 408/409/429/5xx)
  with its own backoff and honours Retry-After (`transport_retries` = its `max_retries`);
- instructor validates each reply against the response model and re-asks with the reason; its
  re-ask loop is a tenacity `Retrying` that also stops when the run's deadline has passed or its
  token budget cannot pay for another attempt (the two things the client does not know about);
- instructor's cache interface keeps validated replies on disk (`ReplyCache`), keyed by instructor
  over the whole prepared request (model, messages with the prompt text, schema, mode, max_tokens,
  temperature), the validation context and a namespace naming the endpoint and how requests to it
  are adapted. Only validated replies are stored: an HTTP error, a truncated or never-valid reply
  is asked again next run;
- `_send`, the function instructor calls once per attempt, adapts the request to what the provider
  accepts and reads each reply's usage and reported model from the openai response (public API).

Errors are classified once (`classify`): a 4xx other than 429 is an `EndpointError` naming status,
provider, model and the provider's message; what is left after the client's retries is
`EndpointUnreachable`. Errors every later call would meet (`stops_run`) are remembered by the run,
so a dead endpoint costs one attempt per run, not one per report.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import instructor
import openai
from instructor.cache import BaseCache
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from nianbao.data import load
from nianbao.extract.llm.config import LLMConfig
from nianbao.extract.llm.errors import (
    BudgetExceeded,
    DeadlineExceeded,
    EndpointError,
    EndpointUnreachable,
    LLMError,
)

MODE_MAP = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "json_object_schema": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}
CACHE_FORMAT = "nianbao-reply-cache-1"
PREFLIGHT_TIMEOUT, PREFLIGHT_RETRIES = 10.0, 1  # a cheap GET /models: a dead endpoint is known in seconds

# instructor logs every failed attempt at ERROR; re-asks are expected here and reported in usage
logging.getLogger("instructor").setLevel(logging.CRITICAL)


@dataclass
class Usage:
    """Tokens and calls of one report (retries and re-asks included)."""

    calls: int = 0  # replies the model produced (re-asks included)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached_calls: int = 0
    transport_retries: int = 0  # HTTP requests the openai client repeated
    reasks: int = 0
    sent_chars: int = 0  # characters of report text put in prompts (what hybrid saves)
    fallbacks: int = 0  # calls whose reply never validated
    truncated: int = 0  # replies cut off at max_tokens
    models: dict[str, int] = field(default_factory=dict)  # model name the server reported → replies

    def add(self, other: Usage) -> None:
        for k in self.__dataclass_fields__:
            if k == "models":
                for m, n in other.models.items():
                    self.models[m] = self.models.get(m, 0) + n
            else:
                setattr(self, k, getattr(self, k) + getattr(other, k))

    def as_dict(self, *, model: str, prompt_version: str, seconds: float) -> dict[str, Any]:
        """The usage record of a report; `model` is what the server said it ran, when it said so."""
        reported = max(self.models, key=lambda m: self.models[m]) if self.models else model
        return {
            "calls": self.calls, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "cost_usd": round(self.cost_usd, 6),
            "model": reported, **({"model_requested": model} if reported != model else {}),
            "prompt_version": prompt_version,
            "cached": self.calls == 0 and self.cached_calls > 0, "cached_calls": self.cached_calls,
            "seconds": round(seconds, 3), "transport_retries": self.transport_retries,
            "reasks": self.reasks, "sent_chars": self.sent_chars, "fallbacks": self.fallbacks,
            "truncated": self.truncated,
        }


def estimate_tokens(text: str) -> int:
    """A rough token count for budgeting: a CJK character is about one token, other text ~3 chars."""
    cjk = sum(1 for ch in text if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    return cjk + math.ceil((len(text) - cjk) / 3)


class RunLimits:
    """What every call of one run shares: the token budget, the deadline, and an endpoint known dead."""

    def __init__(self, token_budget: int | None = None, deadline: float | None = None) -> None:
        self.limit = token_budget
        self.used = 0
        self.reserved = 0
        self.deadline = deadline
        self.deadline_at = time.monotonic() + deadline if deadline else None
        self.dead: LLMError | None = None  # an error every later call would meet
        self._lock = threading.Lock()

    def remaining_seconds(self) -> float | None:
        return None if self.deadline_at is None else self.deadline_at - time.monotonic()

    def check_deadline(self) -> None:
        left = self.remaining_seconds()
        if left is not None and left <= 0:
            raise DeadlineExceeded(f"the run's deadline of {self.deadline:g}s has passed; raise --deadline "
                                   "(or NIANBAO_DEADLINE) to go on")

    def affordable(self, estimate: int) -> bool:
        return self.limit is None or self.used + self.reserved + estimate <= self.limit

    def reserve(self, estimate: int) -> Callable[[], None]:
        """Hold `estimate` tokens of the budget for one call (BudgetExceeded if they are not there).

        Returns the function that gives the hold back (idempotent): called when the first reply has
        been charged, and in any case when the call ends.
        """
        with self._lock:
            if not self.affordable(estimate):
                raise BudgetExceeded(
                    f"token budget of {self.limit} would be exceeded: {self.used} tokens used, the next call "
                    f"needs about {estimate}; raise --token-budget (or NIANBAO_TOKEN_BUDGET) to go on")
            self.reserved += estimate
        held = [estimate]

        def release() -> None:
            with self._lock:
                self.reserved -= held[0]
                held[0] = 0

        return release

    def charge(self, tokens: int) -> None:
        with self._lock:
            self.used += tokens


# kept for callers of the old name
TokenBudget = RunLimits


@cache
def _prices() -> dict[str, dict[str, float]]:
    return load("prices").get("models", {})


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """Cost from the editable price table: exact model name, else the longest listed prefix, else 0."""
    prices = _prices()
    entry = prices.get(model)
    if entry is None:
        prefixes = [m for m in prices if model.startswith(m)]
        entry = prices[max(prefixes, key=len)] if prefixes else {}
    return (prompt_tokens * float(entry.get("prompt", 0)) + completion_tokens * float(entry.get("completion", 0))) / 1000


class ReplyCache(BaseCache):
    """instructor's cache interface over one JSON file per key (shared by processes, written atomically)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        try:
            return self._path(key).read_text(encoding="utf-8")
        except OSError:
            return None

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:  # noqa: ARG002  (no expiry on disk)
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
            tmp.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
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


def _raw_reply(completion: Any) -> dict[str, Any] | None:
    """The JSON object in a completion, whatever the mode (tool call arguments or message text).

    Lenient (`strict=False`): small models put raw newlines inside strings; grounding judges the rest.
    """
    try:
        msg = completion.choices[0].message
    except (AttributeError, IndexError, TypeError):
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
        if start < 0:
            continue
        try:
            data = json.loads(body[start:end + 1], strict=False) if end > start else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
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
            return json.loads(head + "".join(reversed(stack)), strict=False)
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


def provider_message(e: openai.APIStatusError) -> str:
    """The provider's own words from an error body ({"error": {"message": …}}, {"detail": …}, text)."""
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            for k in ("message", "msg", "detail"):
                if inner.get(k):
                    return str(inner[k])
        elif inner:
            return str(inner)
        if body.get("detail"):
            return str(body["detail"])
    try:
        text = e.response.text
    except Exception:  # noqa: BLE001  (a streamed or closed body: the status line says enough)
        text = ""
    return text or str(e.message)


class LLMClient:
    """One endpoint, used by every report of a run (shared limits, cache and concurrency bound)."""

    def __init__(self, cfg: LLMConfig, limits: RunLimits | None = None) -> None:
        self.cfg = cfg
        self.limits = limits or RunLimits(cfg.token_budget, cfg.deadline)
        self.cache = ReplyCache(cfg.cache_dir) if cfg.cache_dir is not None else None
        self._slots = threading.BoundedSemaphore(max(1, cfg.concurrency))
        self._local = threading.local()
        self._preflight_lock = threading.Lock()
        self._preflight_done = not cfg.preflight
        http = openai.DefaultHttpxClient(event_hooks={"request": [self._on_request]})
        self._openai = openai.OpenAI(base_url=cfg.base_url, api_key=cfg.api_key or "not-needed",
                                     timeout=cfg.timeout, max_retries=cfg.transport_retries, http_client=http)
        self._create = instructor.patch(create=self._send, mode=MODE_MAP[cfg.mode])

    @property
    def budget(self) -> RunLimits:
        return self.limits

    # what instructor's cache key cannot see: where requests go and how _send reshapes them
    @property
    def cache_namespace(self) -> str:
        return json.dumps([CACHE_FORMAT, self.cfg.base_url.rstrip("/"), self.cfg.token_param,
                           self.cfg.tool_choice, sorted(self.cfg.refused_params), self.cfg.has_system_role])

    # -- the request as the provider wants it --------------------------------------------------------

    def adapt(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Reshape a prepared request for this provider and model (see providers.toml and llm.toml)."""
        kwargs = dict(kwargs)
        for name in self.cfg.refused_params:
            kwargs.pop(name, None)
        if self.cfg.token_param != "max_tokens" and "max_tokens" in kwargs:
            kwargs[self.cfg.token_param] = kwargs.pop("max_tokens")
        if self.cfg.tool_choice and "tools" in kwargs:
            kwargs["tool_choice"] = self.cfg.tool_choice
        if not self.cfg.has_system_role:
            kwargs["messages"] = fold_system(kwargs.get("messages") or [])
        return kwargs

    def _on_request(self, request: Any) -> None:  # httpx event hook: every HTTP attempt of this thread
        acct = getattr(self._local, "acct", None)
        if acct is not None and str(request.url.path).endswith("/chat/completions"):
            acct.requests += 1

    def _send(self, **kwargs: Any) -> Any:
        """One attempt, as instructor calls it: adapt, send (the client retries), account for the reply."""
        acct: _Account | None = getattr(self._local, "acct", None)
        self.preflight()  # once per run, on the first request that is not answered from the cache
        self.limits.check_deadline()
        client = self._openai
        left = self.limits.remaining_seconds()
        if left is not None and left < self.cfg.timeout:
            client = client.with_options(timeout=max(left, 1.0))
        if acct is not None:
            acct.attempts += 1
        with self._slots:
            completion = client.chat.completions.create(**self.adapt(kwargs))
        usage = getattr(completion, "usage", None)
        p = int(getattr(usage, "prompt_tokens", 0) or 0)
        c = int(getattr(usage, "completion_tokens", 0) or 0)
        reported = str(getattr(completion, "model", "") or self.cfg.model)
        self.limits.charge(p + c)
        if acct is not None:
            acct.release()
            acct.usage.calls += 1
            acct.usage.prompt_tokens += p
            acct.usage.completion_tokens += c
            acct.usage.cost_usd += cost_usd(reported, p, c)
            acct.usage.models[reported] = acct.usage.models.get(reported, 0) + 1
        return completion

    # -- one structured call --------------------------------------------------------------------------

    def preflight(self) -> None:
        """Once per run, before the first request: GET /models, so a dead endpoint or a refused key is
        known from one cheap request (and every later call fails at once instead of retrying).

        A server without /models (404, 405), or one too busy to answer it in time, is not an error:
        the first call will tell.
        """
        if self._preflight_done:
            return
        with self._preflight_lock:
            if self._preflight_done:
                return
            self._preflight_done = True
            timeout = min(PREFLIGHT_TIMEOUT, self.cfg.timeout)
            try:
                self._openai.with_options(timeout=timeout, max_retries=PREFLIGHT_RETRIES).models.list()
            except openai.APIStatusError as e:
                if e.status_code in (401, 403):
                    self.limits.dead = self.classify(e, PREFLIGHT_RETRIES)
            except openai.APITimeoutError:
                pass  # a busy single-stream server (llama.cpp) may hold /models: the call's own timeout tells
            except openai.APIConnectionError as e:
                self.limits.dead = self.classify(e, PREFLIGHT_RETRIES)
        if self.limits.dead is not None:
            raise self.limits.dead

    def structured(self, response_model: type[BaseModel], messages: list[dict[str, str]], *,
                   context: dict[str, Any], prompt_version: str, answer_tokens: int | None = None) -> CallResult:
        """Ask for `response_model`; `context` is the validation context (the source, the region)."""
        if self.limits.dead is not None:
            raise again(self.limits.dead)
        max_tokens = self.cfg.answer_tokens
        estimate = estimate_tokens(json.dumps(messages, ensure_ascii=False)) + estimate_tokens(
            json.dumps(response_model.model_json_schema(), ensure_ascii=False)) + min(
            max_tokens, answer_tokens or max_tokens)
        try:
            self.limits.check_deadline()
            release = self.limits.reserve(estimate)
        except LLMError as e:
            raise self._remember(e) from None
        kwargs: dict[str, Any] = {
            "model": self.cfg.model, "messages": messages, "response_model": response_model,
            "context": context, "max_tokens": max_tokens, "max_retries": self._reasks(estimate),
        }
        if self.cfg.temperature is not None:
            kwargs["temperature"] = self.cfg.temperature
        if self.cfg.mode == "json_object_schema":
            # llama.cpp's server constrains decoding with a schema given inside response_format
            kwargs["extra_body"] = {"response_format": {"type": "json_object",
                                                        "schema": response_model.model_json_schema()}}
        if self.cache is not None:
            kwargs.update(cache=self.cache, cache_namespace=self.cache_namespace)
        acct = _Account(release=release)
        self._local.acct = acct
        try:
            parsed = self._call(kwargs)
        except IncompleteOutputException as e:
            acct.finish()
            acct.usage.truncated += 1
            return self._fallback(_raw_reply(e.last_completion), f"reply cut off at max_tokens={max_tokens}",
                                  acct.usage)
        except InstructorRetryException as e:
            acct.finish()
            failure = self.classify(e)
            if failure is not None:
                raise self._remember(failure, acct.usage) from None
            return self._fallback(_raw_reply(e.last_completion), _reason(e), acct.usage)
        except LLMError as e:
            acct.finish()
            raise self._remember(e, acct.usage) from None
        except openai.APIError as e:
            acct.finish()
            raise self._remember(self.classify(e) or EndpointUnreachable(str(e)), acct.usage) from None
        finally:
            release()
            self._local.acct = None
        acct.finish()
        if acct.attempts == 0:  # instructor answered from the cache
            return CallResult(parsed=parsed, usage=Usage(cached_calls=1), cached=True)
        return CallResult(parsed=parsed, usage=acct.usage)

    def _call(self, kwargs: dict[str, Any]) -> BaseModel:
        try:
            return self._create(**kwargs)
        except ValidationError:
            if "cache" not in kwargs:
                raise
            # a cached reply the current validators refuse (they changed): ask again, uncached
            return self._create(**{k: v for k, v in kwargs.items() if k not in ("cache", "cache_namespace")})

    def _reasks(self, estimate: int) -> Retrying:
        """instructor's re-ask loop: at most `max_retries` re-asks, none past the deadline or the budget."""

        def out_of_run(state: RetryCallState) -> bool:
            left = self.limits.remaining_seconds()
            return (left is not None and left <= 0) or not self.limits.affordable(estimate)

        return Retrying(stop=stop_after_attempt(self.cfg.max_retries + 1) | out_of_run,
                        retry=retry_if_exception_type(ValueError),  # validation and JSON errors
                        reraise=True)

    def _remember(self, e: LLMError, usage: Usage | None = None) -> LLMError:
        """Note what the failed call cost (`e.usage`) and, for errors of the whole run, that it is over."""
        e.usage = usage or Usage()  # type: ignore[attr-defined]
        if e.stops_run and self.limits.dead is None:
            self.limits.dead = e
        return e

    def classify(self, e: BaseException, retries: int | None = None) -> LLMError | None:
        """The run-level meaning of an error instructor or the client raised (None: a reply problem).

        `retries`: how many times the client retried the failed request (default: transport_retries).
        """
        retries = self.cfg.transport_retries if retries is None else retries
        seen = 0
        while e is not None and seen < 6:
            if isinstance(e, LLMError):
                return e
            if isinstance(e, openai.APIStatusError):
                if e.status_code == 429 or e.status_code >= 500 or e.status_code in (408, 409):
                    return EndpointUnreachable(
                        f"{self._where()}: HTTP {e.status_code} after {retries} retries: "
                        f"{' '.join(provider_message(e).split())[:200]}")
                return EndpointError(e.status_code, self.cfg.provider, self.cfg.model, self.cfg.base_url,
                                     provider_message(e))
            if isinstance(e, openai.APITimeoutError):
                left = self.limits.remaining_seconds()
                if left is not None and left <= 0:
                    return DeadlineExceeded(f"the run's deadline of {self.limits.deadline:g}s passed during a call "
                                            f"to {self._where()}")
                return EndpointUnreachable(f"{self._where()}: no reply within {self.cfg.timeout:g}s "
                                           f"({retries} retries)")
            if isinstance(e, openai.APIConnectionError):
                why = e.__cause__ or e.__context__
                detail = f": {why}" if why and str(why) else ""
                return EndpointUnreachable(f"{self._where()} cannot be reached{detail} ({retries} retries)")
            e = e.__cause__ or e.__context__  # type: ignore[assignment]
            seen += 1
        return None

    def _where(self) -> str:
        return f"provider {self.cfg.provider}, model {self.cfg.model} ({self.cfg.base_url})"

    def _fallback(self, raw: dict[str, Any] | None, error: str, usage: Usage) -> CallResult:
        """A reply that never validated: kept (never cached) for grounding to judge value by value."""
        usage.fallbacks += 1
        return CallResult(parsed=None, raw=raw, usage=usage, error=error)


@dataclass
class _Account:
    """One structured call's tally, filled by `_send` and the HTTP hook on the calling thread."""

    release: Any
    usage: Usage = field(default_factory=Usage)
    attempts: int = 0  # _send invocations (first ask and re-asks)
    requests: int = 0  # HTTP requests (attempts plus the client's retries)

    def finish(self) -> None:
        self.usage.reasks += max(0, self.usage.calls - 1)
        self.usage.transport_retries += max(0, self.requests - self.attempts)


def again(e: LLMError) -> LLMError:
    """The run's remembered error raised anew for another call: same type and words, nothing spent."""
    fresh = type(e).__new__(type(e), *e.args)
    fresh.__dict__.update(e.__dict__)
    fresh.usage = Usage()  # type: ignore[attr-defined]
    return fresh


def fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For chat formats without a system role: the system text heads the first user message."""
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system").strip()
    rest = [dict(m) for m in messages if m.get("role") != "system"]
    if not system:
        return rest
    for m in rest:
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            m["content"] = f"{system}\n\n{m['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]
