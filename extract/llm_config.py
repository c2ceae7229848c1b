"""Where the model lives: provider presets, environment and an optional user config file.

Every provider is the same OpenAI-compatible client; a provider is only a base URL, a model name, an
API key variable and the way structured output is asked for (`mode`), so adding one is a data edit
in nianbao/data/providers.toml, never code.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

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
    timeout: float = 120.0
    max_retries: int = 2  # instructor re-asks after a reply fails validation
    transport_retries: int = 4  # tenacity attempts on timeouts, 429 and 5xx
    backoff_max: float = 30.0
    token_budget: int | None = None  # per run (all reports of one command)
    concurrency: int = 2
    max_tokens: int = 2048
    cache_dir: Path | None = field(default_factory=lambda: default_cache_dir())
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> LLMConfig:
        if not self.base_url:
            raise LLMConfigError("no LLM endpoint: set NIANBAO_BASE_URL or choose --provider "
                                 f"({', '.join(presets())})")
        if not self.model:
            raise LLMConfigError(f"no model for {self.base_url}: set NIANBAO_MODEL or --model")
        if self.mode not in MODES:
            raise LLMConfigError(f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        return self


def default_cache_dir() -> Path:
    base = os.environ.get("NIANBAO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nianbao", "llm")
    return Path(base)


@cache
def presets() -> dict[str, dict[str, Any]]:
    text = resources.files("nianbao").joinpath("data", "providers.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["providers"]


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
_FLOAT_KEYS = ("timeout", "backoff_max")


def load_config(provider: str | None = None, *, model: str | None = None, base_url: str | None = None,
                mode: str | None = None, token_budget: int | None = None, **overrides: Any) -> LLMConfig:
    """Preset ← user config file ← environment ← explicit arguments (later wins)."""
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
    for k in ("base_url", "model", "mode", "api_key"):
        if _env(k.upper()):
            values[k] = _env(k.upper())
    if _env("TOKEN_BUDGET"):
        values["token_budget"] = int(_env("TOKEN_BUDGET") or 0)
    for k, v in {"model": model, "base_url": base_url, "mode": mode, "token_budget": token_budget,
                 **overrides}.items():
        if v is not None:
            values[k] = v
    if not values.get("api_key"):
        values["api_key"] = (os.environ.get(key_env) if key_env else None) or "not-needed"
    if "cache_dir" in values and values["cache_dir"] is not None:
        values["cache_dir"] = Path(values["cache_dir"]).expanduser()
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
