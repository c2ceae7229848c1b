"""Why a model backend could not do its job, as exceptions whose str() is one line for stderr.

`BackendError` is the root a command maps to an exit code: a report whose backend raised one is not
read (exit 2 for `llm`; `hybrid` keeps the parser's reading instead and says the model was not
consulted). `stops_run` marks errors that every later report of the run would meet too (an endpoint
that is down or refuses the key, a budget or deadline spent): the run stops, or for hybrid stops
asking, instead of failing the same way once per report.
"""

from __future__ import annotations

from http import HTTPStatus

from nianbao.errors import BackendError as _CoreBackendError


class BackendError(_CoreBackendError):
    """A backend could not read a report; str() is one line naming what failed and why."""

    stops_run: bool = False


class LLMError(BackendError):
    """A model call that could not be completed; `usage` is what the failed call cost (tokens, retries)."""

    usage: object | None = None


class EndpointError(LLMError):
    """The endpoint answered a request with an HTTP error that retrying cannot fix (4xx but 429)."""

    def __init__(self, status: int, provider: str, model: str, base_url: str, message: str) -> None:
        self.status, self.provider, self.model, self.base_url = status, provider, model, base_url
        self.provider_message = " ".join(message.split())[:300]
        # a bad key, a missing model or a wrong URL fails every request alike; a 400/422 may be this
        # report's alone (too long for the context, a value the server dislikes)
        self.stops_run = status in (401, 403, 404)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "error"
        super().__init__(f"HTTP {status} {phrase} from provider {provider}, model {model} ({base_url}): "
                         f"{self.provider_message or 'no message'}")


class EndpointUnreachable(LLMError):
    """No usable answer after the client's own retries: connection refused, timeouts, 5xx, 429."""

    stops_run = True


class BudgetExceeded(LLMError):
    """The run's token budget cannot pay for the next call: the run stops rather than overspend."""

    stops_run = True


class DeadlineExceeded(LLMError):
    """The run's deadline has passed (or would pass during the next call)."""

    stops_run = True
