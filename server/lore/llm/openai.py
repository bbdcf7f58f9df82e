"""OpenAI-compatible chat completions: Ollama, llama.cpp's server, vLLM, LM Studio, OpenAI.

Self-care around every call:

- timeouts for connecting and for reading;
- retries with exponential backoff and full jitter on 429 (honouring ``Retry-After``), 5xx
  and connection errors;
- a circuit breaker per endpoint: after ``circuit_failures`` consecutive failures it opens and
  the endpoint is skipped for ``circuit_reset_s``, then one trial call is let through;
- failover across endpoints, healthy and fast ones first (an EWMA of their latency).

Calls run on worker threads; streaming stops, and the HTTP response is closed, as soon as the
request is cancelled. API keys are read from the environment at call time and never logged.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field

import httpx

from lore.config import EndpointSettings, LlmSettings
from lore.llm.base import CancelCheck, Cancelled, Completion, ProviderError, TokenCallback
from lore.ops.audit import AuditLog, redact_url

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0


class _RetryableError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(slots=True)
class EndpointHealth:
    """The circuit breaker and speed of one endpoint."""

    failures: int = 0
    opened_at: float | None = None
    latency_ewma_ms: float | None = None
    calls: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self, reset_s: float) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self.opened_at >= reset_s else "open"

    def succeeded(self, latency_ms: float) -> None:
        with self.lock:
            self.calls += 1
            self.failures = 0
            self.opened_at = None
            previous = self.latency_ewma_ms
            self.latency_ewma_ms = (
                latency_ms if previous is None else 0.7 * previous + 0.3 * latency_ms
            )

    def failed(self, threshold: int) -> None:
        with self.lock:
            self.calls += 1
            self.errors += 1
            self.failures += 1
            if self.failures >= threshold:
                self.opened_at = time.monotonic()


class OpenAIProvider:
    """Chat completions over a list of endpoints."""

    def __init__(self, settings: LlmSettings, audit: AuditLog | None = None) -> None:
        if not settings.endpoints:
            raise ValueError("llm.provider is openai but llm.endpoints is empty")
        self.settings = settings
        self.audit = audit
        self.endpoints = list(settings.endpoints)
        self.health = {e.base_url: EndpointHealth() for e in self.endpoints}
        # One pooled client for every endpoint: connections are kept per host.
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
        )

    @property
    def name(self) -> str:
        return f"openai:{self.endpoints[0].model}"

    def close(self) -> None:
        self._client.close()

    def status(self) -> dict:
        reset = self.settings.circuit_reset_s
        return {
            "provider": "openai",
            "endpoints": [
                {
                    "base_url": redact_url(e.base_url),
                    "model": e.model,
                    "circuit": self.health[e.base_url].state(reset),
                    "latency_ewma_ms": self.health[e.base_url].latency_ewma_ms,
                    "calls": self.health[e.base_url].calls,
                    "errors": self.health[e.base_url].errors,
                }
                for e in self.endpoints
            ],
        }

    def _ordered(self) -> list[EndpointSettings]:
        """Closed circuits first, fastest first; then half-open ones; open ones are skipped."""
        reset = self.settings.circuit_reset_s

        def key(e: EndpointSettings) -> tuple[int, float]:
            health = self.health[e.base_url]
            rank = {"closed": 0, "half-open": 1}.get(health.state(reset), 2)
            return rank, health.latency_ewma_ms or 0.0

        usable = [e for e in self.endpoints if self.health[e.base_url].state(reset) != "open"]
        return sorted(usable, key=key)

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        cancelled: CancelCheck | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        """The answer of the first endpoint that gives one; ``ProviderError`` if none does."""
        stop = cancelled or (lambda: False)
        errors: list[str] = []
        for endpoint in self._ordered():
            try:
                return self._with_retries(endpoint, messages, stop, on_token)
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure moves on to the next endpoint
                errors.append(f"{redact_url(endpoint.base_url)}: {exc}")
                log.warning("LLM endpoint %s failed: %s", redact_url(endpoint.base_url), exc)
        if not errors:
            errors.append("every endpoint's circuit is open")
        raise ProviderError("; ".join(errors))

    def _with_retries(
        self,
        endpoint: EndpointSettings,
        messages: list[dict[str, str]],
        stop: CancelCheck,
        on_token: TokenCallback | None,
    ) -> Completion:
        health = self.health[endpoint.base_url]
        attempts = self.settings.max_retries + 1
        for attempt in range(1, attempts + 1):
            if stop():
                raise Cancelled()
            started = time.perf_counter()
            try:
                completion = self._call(endpoint, messages, stop, on_token)
            except Cancelled:
                self._audit(endpoint, "cancelled", started, attempt, messages)
                raise
            except (_RetryableError, httpx.TransportError) as exc:
                self._audit(endpoint, "error", started, attempt, messages, error=_describe(exc))
                health.failed(self.settings.circuit_failures)
                if attempt == attempts or health.state(self.settings.circuit_reset_s) == "open":
                    raise
                self._backoff(attempt, getattr(exc, "retry_after", None), stop)
                continue
            except Exception as exc:
                self._audit(endpoint, "error", started, attempt, messages, error=_describe(exc))
                health.failed(self.settings.circuit_failures)
                raise
            latency_ms = (time.perf_counter() - started) * 1000
            health.succeeded(latency_ms)
            self._audit(
                endpoint,
                "ok",
                started,
                attempt,
                messages,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
            )
            return completion
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None, stop: CancelCheck) -> None:
        if retry_after is not None:
            delay = min(retry_after, MAX_RETRY_AFTER_S)
        else:
            # Full jitter: a random wait up to the exponential bound.
            delay = random.uniform(0, self.settings.backoff_base_s * (2 ** (attempt - 1)))
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            if stop():
                raise Cancelled()
            time.sleep(min(left, 0.05))

    def _call(
        self,
        endpoint: EndpointSettings,
        messages: list[dict[str, str]],
        stop: CancelCheck,
        on_token: TokenCallback | None,
    ) -> Completion:
        url = endpoint.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        key = endpoint.api_key()
        if key is not None:
            headers["Authorization"] = f"Bearer {key.get_secret_value()}"
        body = {
            "model": endpoint.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "stream": self.settings.stream,
        }
        if self.settings.stream:
            body["stream_options"] = {"include_usage": True}
        with self._client.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code in RETRY_STATUSES:
                raise _RetryableError(
                    f"HTTP {response.status_code}",
                    _retry_after(response.headers.get("retry-after")),
                )
            if response.status_code >= 400:
                response.read()
                raise ProviderError(f"HTTP {response.status_code}: {response.text[:200]}")
            if not self.settings.stream:
                data = json.loads(response.read())
                usage = data.get("usage") or {}
                return Completion(
                    data["choices"][0]["message"]["content"] or "",
                    data.get("model", endpoint.model),
                    endpoint.base_url,
                    usage.get("prompt_tokens"),
                    usage.get("completion_tokens"),
                )
            return self._read_stream(response, endpoint, stop, on_token)

    def _read_stream(
        self,
        response: httpx.Response,
        endpoint: EndpointSettings,
        stop: CancelCheck,
        on_token: TokenCallback | None,
    ) -> Completion:
        parts: list[str] = []
        usage: dict = {}
        model = endpoint.model
        for line in response.iter_lines():
            if stop():
                raise Cancelled()  # leaving the `with` block closes the HTTP response
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            event = json.loads(payload)
            usage = event.get("usage") or usage
            model = event.get("model", model)
            for choice in event.get("choices") or []:
                token = (choice.get("delta") or {}).get("content")
                if token:
                    parts.append(token)
                    if on_token is not None:
                        on_token(token)
        return Completion(
            "".join(parts),
            model,
            endpoint.base_url,
            usage.get("prompt_tokens"),
            usage.get("completion_tokens") or (len(parts) or None),
        )

    def _audit(
        self,
        endpoint: EndpointSettings,
        outcome: str,
        started: float,
        attempt: int,
        messages: list[dict[str, str]],
        **extra: object,
    ) -> None:
        if self.audit is None:
            return
        self.audit.record(
            endpoint=endpoint.base_url,
            model=endpoint.model,
            outcome=outcome,
            latency_ms=(time.perf_counter() - started) * 1000,
            attempt=attempt,
            messages=messages,
            **extra,  # type: ignore[arg-type]
        )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or unreachable"
    return str(exc) or type(exc).__name__
