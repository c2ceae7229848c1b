"""Where the model lives: provider presets, environment and an optional user config file.

Every provider is the same OpenAI-compatible client; a provider is only a base URL, a model name, an
API key variable, the way structured output is asked for (`mode`) and the request parameters it
refuses, so adding one is a data edit in nianbao/data/providers.toml, never code. What depends on
the model rather than the server (its size, hence `max_tokens`; whether it is a reasoning model that
refuses `temperature`; whether its chat format has a system role) is looked up by model name in
nianbao/data/llm.toml.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from nianbao.data import load

MODES = ("tools", "json_schema", "json", "json_object_schema", "md_json")
ENV_PREFIX = "NIANBAO_"


class LLMConfigError(ValueError):
    """A configuration that cannot reach a model; str() is one line saying what to set."""


@dataclass(frozen=True)
class LLMConfig:
    provider: str = "custom"
    base_url: str = ""
    model: str = ""
    api_key: str = ""
    mode: str = "tools"
    timeout: float = 120.0  # one request (the run's deadline shortens it when closer)
    max_retries: int = 2  # instructor re-asks after a reply fails validation
    transport_retries: int = 2  # the openai client's own retries (timeouts, 408/409/429/5xx, connection)
    token_budget: int | None = None  # per run (all reports of one command)
    deadline: float | None = None  # seconds for the whole run's model calls
    concurrency: int = 2
    max_tokens: int | None = None  # None: by the model's size (nianbao/data/llm.toml)
    temperature: float | None = 0.0
    token_param: str = "max_tokens"  # or "max_completion_tokens" (OpenAI's newer models)
    tool_choice: str | None = None  # "auto" for providers that refuse a forced tool
    drop_params: tuple[str, ...] = ()  # request parameters this provider refuses
    system_role: bool | None = None  # None: from the model's chat format (llm.toml)
    preflight: bool = True  # one GET /models per run before the first call
    cache_dir: Path | None = field(default_factory=lambda: default_cache_dir())
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def profile(self) -> dict[str, Any]:
        return model_profile(self.model)

    @property
    def answer_tokens(self) -> int:
        """max_tokens to send: as configured, else by the model's size."""
        if self.max_tokens:
            return self.max_tokens
        sizes = _llm_data()["sizes"]
        return int(sizes.get(self.profile.get("size", "default"), sizes["default"]))

    @property
    def has_system_role(self) -> bool:
        return self.system_role if self.system_role is not None else bool(self.profile.get("system_role", True))

    @property
    def refused_params(self) -> frozenset[str]:
        """Parameters not to send: the preset's, plus temperature for reasoning models."""
        out = set(self.drop_params)
        if self.profile.get("reasoning"):
            out.add("temperature")
        return frozenset(out)

    def check(self) -> LLMConfig:
        if not self.base_url:
            raise LLMConfigError("no LLM endpoint: set NIANBAO_BASE_URL or choose --provider "
                                 f"({', '.join(presets())})")
        if not self.model:
            raise LLMConfigError(f"no model for {self.base_url}: set NIANBAO_MODEL or --model")
        for name, value in (("max_tokens", self.max_tokens), ("token_budget", self.token_budget),
                            ("deadline", self.deadline)):
            if value is not None and value <= 0:
                raise LLMConfigError(f"{name} must be positive (got {value})")
        if self.token_param not in ("max_tokens", "max_completion_tokens"):
            raise LLMConfigError(f"token_param must be max_tokens or max_completion_tokens, not {self.token_param!r}")
        if self.mode not in MODES:
            raise LLMConfigError(f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        return self


@cache
def _llm_data() -> dict[str, Any]:
    return load("llm")


def model_profile(model: str) -> dict[str, Any]:
    """What llm.toml says about a model: the longest listed name prefix, case-insensitive."""
    models = _llm_data().get("models", {})
    name = model.lower().rsplit("/", 1)[-1]
    hits = [m for m in models if name.startswith(m.lower())]
    return dict(models[max(hits, key=len)]) if hits else {}


def default_cache_dir() -> Path:
    base = os.environ.get("NIANBAO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nianbao", "llm")
    return Path(base)


@cache
def presets() -> dict[str, dict[str, Any]]:
    return load("providers")["providers"]


def user_config_path() -> Path:
    env = os.environ.get("NIANBAO_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "nianbao" / "config.toml"


def _user_config() -> dict[str, Any]:
    path = user_config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise LLMConfigError(f"{path}: cannot be read as TOML ({e})") from None
    return data.get("llm", data)


def _env(name: str) -> str | None:
    return os.environ.get(ENV_PREFIX + name) or None


def endpoint_configured() -> bool:
    """True when the user pointed nianbao at a model (env or config file): hybrid becomes the default."""
    if _env("BASE_URL") or _env("PROVIDER"):
        return True
    try:
        user = _user_config()
    except LLMConfigError:
        return False
    return bool(user.get("base_url") or user.get("provider"))


_INT_KEYS = ("max_retries", "transport_retries", "concurrency", "max_tokens")
_FLOAT_KEYS = ("timeout", "deadline", "temperature")
_ENV_KEYS = {"BASE_URL": str, "MODEL": str, "MODE": str, "API_KEY": str, "TOKEN_BUDGET": int,
             "MAX_TOKENS": int, "DEADLINE": float}


def load_config(provider: str | None = None, *, model: str | None = None, base_url: str | None = None,
                mode: str | None = None, token_budget: int | None = None, no_cache: bool = False,
                **overrides: Any) -> LLMConfig:
    """Preset ← user config file ← environment ← explicit arguments (later wins).

    `no_cache` turns the reply cache off for this run (neither read nor written).
    """
    user = _user_config()
    name = provider or _env("PROVIDER") or user.get("provider")
    values: dict[str, Any] = {}
    key_env = None
    if name:
        if name not in presets():
            raise LLMConfigError(f"unknown provider {name!r}; choose from {', '.join(presets())}")
        preset = dict(presets()[name])
        key_env = preset.pop("key_env", None)
        values.update(preset)
        values["provider"] = name
    for k, v in user.items():
        if k in ("provider",):
            continue
        if k == "key_env":
            key_env = v
        else:
            values[k] = v
    for name, kind in _ENV_KEYS.items():
        raw = _env(name)
        if raw:
            try:
                values[name.lower()] = kind(raw)
            except ValueError:
                raise LLMConfigError(f"{ENV_PREFIX}{name}={raw!r} is not a {kind.__name__}") from None
    for k, v in {"model": model, "base_url": base_url, "mode": mode, "token_budget": token_budget,
                 **overrides}.items():
        if v is not None:
            values[k] = v
    if not values.get("api_key"):
        values["api_key"] = (os.environ.get(key_env) if key_env else None) or "not-needed"
    if no_cache:
        values["cache_dir"] = None
    if "cache_dir" in values and values["cache_dir"] is not None:
        values["cache_dir"] = Path(values["cache_dir"]).expanduser()
    if "drop_params" in values:
        values["drop_params"] = tuple(values["drop_params"])
    for k in _INT_KEYS:
        if k in values:
            values[k] = int(values[k])
    for k in _FLOAT_KEYS:
        if k in values:
            values[k] = float(values[k])
    known = set(LLMConfig.__dataclass_fields__)
    extra = {k: v for k, v in values.items() if k not in known}
    cfg = LLMConfig(**{k: v for k, v in values.items() if k in known})
    if extra:
        cfg = replace(cfg, extra=extra)
    return cfg.check()
