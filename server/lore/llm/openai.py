"""OpenAI-compatible chat completions: Ollama, llama.cpp's server, vLLM, LM Studio, OpenAI.

Self-care around every call:

- time limits: connecting (``connect_timeout_s``), the first token (``first_token_timeout_s``:
  a CPU can spend tens of seconds on the prompt), the gap between tokens (``idle_timeout_s``)
  and one total deadline for the answer (``timeout_s``) that no retry, failover or
  ``Retry-After`` goes past;
- retries with exponential backoff and full jitter on 429 (honouring ``Retry-After``), 5xx
  and connection errors; never on a read timeout, which against a one-slot local server only
  queues more work behind the request it gave up on;
- a reply is a failure, not an answer, when it is empty, ends without ``[DONE]``, carries an
  error inside a 200, redirects, is not a chat-completions reply, or passes
  ``max_reply_bytes``;
- a circuit breaker per endpoint: after ``circuit_failures`` consecutive failures it opens and
  the endpoint is skipped for ``circuit_reset_s``, then one trial call is let through;
- failover across endpoints, healthy and fast ones first (an EWMA of their latency).

Requests run on a private event loop; the calling thread waits and polls its cancel check, and a
cancel cancels the request's task, which closes the HTTP connection at once in every phase:
connecting, waiting while the server processes the prompt, or streaming. API keys are read from
the environment at call time and never logged.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import json
import logging
import random
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

from lore.config import EndpointSettings, LlmSettings
from lore.llm.base import (
    CancelCheck,
    Cancelled,
    Completion,
    ProviderError,
    TokenCallback,
    approximate_tokens,
)
from lore.ops.audit import AuditLog, redact_url

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
CANCEL_POLL_S = 0.02
"""How often the waiting thread looks at the cancel check: the bound on a cancel's delay."""
MAX_ERROR_CHARS = 2000
"""A server's error message is kept whole up to this (its advice is usually at the end)."""
PROBE_TIMEOUT_S = 3.0


class CallFailed(Exception):
    """One call to one endpoint failed; ``outcome`` names what happened, for the audit log."""

    def __init__(
        self,
        outcome: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        text: str = "",
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retryable = retryable
        self.retry_after = retry_after
        self.text = text
        """The model's text received before the failure, if any."""


@dataclass(slots=True)
class EndpointHealth:
    """The circuit breaker and speed of one endpoint."""

    failures: int = 0
    opened_at: float | None = None
    latency_ewma_ms: float | None = None
    calls: int = 0
    errors: int = 0
    context_tokens: int | None = None
    """The context size the server reports, once asked (0: it reports none)."""
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
        # The response's own read timeout is off: the first-token, idle and total limits
        # are kept by _call, which knows which phase the request is in.
        connect = settings.connect_timeout_s
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=connect, write=connect, pool=connect),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            follow_redirects=False,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lore-llm", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return f"openai:{self.endpoints[0].model}"

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(2.0)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2.0)
        self._loop.close()

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
                    "context_tokens": self.health[e.base_url].context_tokens or None,
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

    # --- the calling thread ------------------------------------------------------------

    def _run(self, coroutine, stop: CancelCheck):  # noqa: ANN001, ANN202
        """Run ``coroutine`` on the provider's loop; cancel it as soon as ``stop()`` says so."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        while True:
            try:
                return future.result(timeout=CANCEL_POLL_S)
            except concurrent.futures.CancelledError:
                raise Cancelled() from None
            except TimeoutError:
                if future.done():
                    raise
                if stop():
                    future.cancel()  # cancels the task: httpx closes the connection
                    raise Cancelled() from None
            except (KeyboardInterrupt, SystemExit):
                future.cancel()
                raise

    def context_tokens(self, *, cancelled: CancelCheck | None = None) -> int:
        """The context to fill: ``llm.context_tokens``, or less when the first usable endpoint
        reports a smaller one (asked once per endpoint, with a short timeout)."""
        configured = self.settings.context_tokens
        ordered = self._ordered()
        if not ordered:
            return configured
        health = self.health[ordered[0].base_url]
        if health.context_tokens is None:
            health.context_tokens = self._run(
                self._probe_context(ordered[0]), cancelled or (lambda: False)
            )
        reported = health.context_tokens
        return min(configured, reported) if reported else configured

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        cancelled: CancelCheck | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        """The answer of the first endpoint that gives one; ``ProviderError`` if none does,
        ``Cancelled`` as soon as ``cancelled()`` is true."""
        stop = cancelled or (lambda: False)
        if stop():
            raise Cancelled()
        return self._run(self._complete(messages, on_token, stop), stop)

    # --- the provider's loop -----------------------------------------------------------

    async def _complete(
        self, messages: list[dict[str, str]], on_token: TokenCallback | None, stop: CancelCheck
    ) -> Completion:
        deadline = time.monotonic() + self.settings.timeout_s
        errors: list[str] = []
        for endpoint in self._ordered():
            if time.monotonic() >= deadline:
                errors.append(
                    f"the deadline of {self.settings.timeout_s:g} s (llm.timeout_s) passed"
                )
                break
            try:
                return await self._with_retries(endpoint, messages, on_token, stop, deadline)
            except CallFailed as exc:
                errors.append(f"{redact_url(endpoint.base_url)}: {exc}")
                log.warning("LLM endpoint %s failed: %s", redact_url(endpoint.base_url), exc)
        if not errors:
            errors.append("every endpoint's circuit is open")
        raise ProviderError("; ".join(errors))

    async def _with_retries(
        self,
        endpoint: EndpointSettings,
        messages: list[dict[str, str]],
        on_token: TokenCallback | None,
        stop: CancelCheck,
        deadline: float,
    ) -> Completion:
        health = self.health[endpoint.base_url]
        attempts = self.settings.max_retries + 1
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            try:
                completion = await self._call(endpoint, messages, on_token, stop, deadline)
            except (asyncio.CancelledError, Cancelled):
                self._audit(endpoint, "cancelled", started, attempt, messages)
                raise
            except CallFailed as exc:
                self._audit(
                    endpoint,
                    exc.outcome,
                    started,
                    attempt,
                    messages,
                    error=str(exc),
                    reply=exc.text,
                )
                health.failed(self.settings.circuit_failures)
                if (
                    not exc.retryable
                    or attempt == attempts
                    or health.state(self.settings.circuit_reset_s) == "open"
                ):
                    raise
                await self._backoff(attempt, exc, deadline)
                continue
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
                usage_reported=completion.usage_reported,
                reply=completion.text,
            )
            return completion
        raise AssertionError("unreachable")

    async def _backoff(self, attempt: int, failure: CallFailed, deadline: float) -> None:
        if failure.retry_after is not None:
            delay = failure.retry_after
        else:
            # Full jitter: a random wait up to the exponential bound.
            delay = random.uniform(0, self.settings.backoff_base_s * (2 ** (attempt - 1)))
        if time.monotonic() + delay >= deadline:
            raise CallFailed(
                failure.outcome,
                f"{failure}; a retry after {delay:g} s would pass the deadline of "
                f"{self.settings.timeout_s:g} s (llm.timeout_s)",
            )
        await asyncio.sleep(delay)

    async def _call(
        self,
        endpoint: EndpointSettings,
        messages: list[dict[str, str]],
        on_token: TokenCallback | None,
        stop: CancelCheck,
        deadline: float,
    ) -> Completion:
        settings = self.settings
        url = endpoint.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        key = endpoint.api_key()
        if key is not None:
            headers["Authorization"] = f"Bearer {key.get_secret_value()}"
        body: dict = {
            "model": endpoint.model,
            "messages": messages,
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "stream": settings.stream,
        }
        if settings.stream:
            body["stream_options"] = {"include_usage": True}
        limits = _Limits(settings, deadline)
        reader = _Reply(endpoint, settings.max_reply_bytes, on_token, stop)
        try:
            async with asyncio.timeout_at(limits.first_token(settings.stream)) as timer:
                reader.timer, reader.limits = timer, limits
                async with self._client.stream("POST", url, json=body, headers=headers) as response:
                    _check_status(response, await _error_body(response, settings.max_reply_bytes))
                    if settings.stream:
                        return await reader.stream(response, _approximate_tokens(messages))
                    return await reader.whole(response, _approximate_tokens(messages))
        except TimeoutError:
            raise CallFailed(
                "timeout", limits.explain(reader.tokens), text="".join(reader.parts)
            ) from None
        except httpx.ConnectTimeout:
            raise CallFailed(
                "connect_error",
                f"no connection within {settings.connect_timeout_s:g} s (llm.connect_timeout_s)",
                retryable=True,
            ) from None
        except httpx.ConnectError as exc:
            raise CallFailed(
                "connect_error", f"connection refused or unreachable ({exc})", retryable=True
            ) from None
        except httpx.TransportError as exc:
            # The server dropped the connection: a restart or a crash, worth one more try.
            raise CallFailed(
                "connection_lost",
                f"the connection broke ({type(exc).__name__}: {exc})",
                retryable=not reader.parts,
                text="".join(reader.parts),
            ) from None

    async def _probe_context(self, endpoint: EndpointSettings) -> int | None:
        """The context size the server reports: 0 when it reports none, None when it could not
        be asked (it is asked again next time). vLLM puts ``max_model_len`` in ``/v1/models``;
        llama.cpp's server puts the context of one slot in ``/props`` (beside ``/v1``)."""
        base = endpoint.base_url.rstrip("/")
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        headers = {}
        key = endpoint.api_key()
        if key is not None:
            headers["Authorization"] = f"Bearer {key.get_secret_value()}"
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):  # both questions together
                for url in (f"{base}/models", f"{root}/props"):
                    response = await self._client.get(url, headers=headers)
                    if response.status_code != 200 or len(response.content) > 1_000_000:
                        continue
                    try:
                        found = _context_from(response.json(), endpoint.model)
                    except ValueError:
                        continue
                    if found:
                        return found
        except (httpx.HTTPError, TimeoutError):
            return None
        return 0

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


class _Limits:
    """Which time limit is next: the first token's, the idle gap's, or the total deadline."""

    def __init__(self, settings: LlmSettings, deadline: float) -> None:
        self.settings = settings
        self.deadline = deadline
        self.started = time.monotonic()
        self.phase = "first"

    def _loop_time(self, monotonic: float) -> float:
        # asyncio.timeout takes the loop's clock, which is time.monotonic on every platform
        # CPython supports; converted anyway so that a different clock still works.
        return asyncio.get_running_loop().time() + (monotonic - time.monotonic())

    def first_token(self, streaming: bool) -> float:
        # Without streaming the whole answer is the first token: only the deadline applies.
        limit = self.started + (self.settings.first_token_timeout_s if streaming else 1e9)
        self.phase = "first" if limit < self.deadline else "total"
        return self._loop_time(min(limit, self.deadline))

    def next_token(self) -> float:
        limit = time.monotonic() + self.settings.idle_timeout_s
        self.phase = "idle" if limit < self.deadline else "total"
        return self._loop_time(min(limit, self.deadline))

    def explain(self, tokens: int) -> str:
        s = self.settings
        if self.phase == "first":
            return (
                f"no token within {s.first_token_timeout_s:g} s (llm.first_token_timeout_s); "
                "the server may still be processing the prompt"
            )
        if self.phase == "idle":
            return f"no token for {s.idle_timeout_s:g} s after {tokens} (llm.idle_timeout_s)"
        return f"the answer passed its deadline of {s.timeout_s:g} s (llm.timeout_s)"


class _Reply:
    """Reads one reply, within the byte cap, into a Completion."""

    def __init__(
        self,
        endpoint: EndpointSettings,
        max_bytes: int,
        on_token: TokenCallback | None,
        stop: CancelCheck,
    ) -> None:
        self.endpoint = endpoint
        self.stop = stop
        self.max_bytes = max_bytes
        self.on_token = on_token
        self.parts: list[str] = []
        self.tokens = 0
        self.timer: asyncio.Timeout | None = None
        self.limits: _Limits | None = None

    def _too_large(self) -> CallFailed:
        return CallFailed(
            "too_large",
            f"the reply passed {self.max_bytes} bytes (llm.max_reply_bytes)",
            text="".join(self.parts),
        )

    async def _lines(self, response: httpx.Response) -> AsyncIterator[str]:
        """The reply's lines, counting every byte against the cap (a line is never held
        whole beyond it)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        received = 0
        pending = ""
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > self.max_bytes:
                raise self._too_large()
            pending += decoder.decode(chunk)
            *lines, pending = pending.split("\n")
            for line in lines:
                yield line.rstrip("\r")
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending.rstrip("\r")

    async def stream(self, response: httpx.Response, prompt_estimate: int) -> Completion:
        usage: dict = {}
        model = self.endpoint.model
        done = False
        async for line in self._lines(response):
            if self.stop():
                # Seen between two tokens: not one more reaches the caller. Leaving the
                # `async with` blocks closes the response.
                raise Cancelled()
            if not line or line.startswith(":"):
                continue  # SSE comments are keep-alive pings: not a token
            if not line.startswith("data:"):
                if line.split(":", 1)[0] in ("event", "id", "retry"):
                    continue
                raise CallFailed(
                    "protocol_error",
                    f"the reply is not a chat-completions event stream ({_clip(line, 120)})",
                    text="".join(self.parts),
                )
            payload = line[5:].strip()
            if payload == "[DONE]":
                done = True
                break
            try:
                event = json.loads(payload)
            except ValueError:
                raise CallFailed(
                    "protocol_error",
                    f"the stream sent an event that is not JSON ({_clip(payload, 120)})",
                    text="".join(self.parts),
                ) from None
            if not isinstance(event, dict):
                raise CallFailed("protocol_error", "the stream sent an event that is not an object")
            if event.get("error"):
                raise CallFailed(
                    "error_in_reply",
                    f"the server reported an error: {_error_message(event)}",
                    text="".join(self.parts),
                )
            usage = event.get("usage") or usage
            model = event.get("model") or model
            for choice in event.get("choices") or []:
                token = (choice.get("delta") or {}).get("content")
                if token:
                    self._token(token)
        text = "".join(self.parts)
        if not text.strip():
            # Nothing at all, [DONE] or not: llama-cpp-python's way of refusing a prompt
            # that does not fit its context.
            raise CallFailed("empty", _empty_reason(prompt_estimate))
        if not done:
            raise CallFailed(
                "truncated",
                f"the stream ended before [DONE], after {self.tokens} tokens",
                text=text,
            )
        return _completion(text, model, self.endpoint, usage, self.tokens, prompt_estimate)

    def _token(self, token: str) -> None:
        self.parts.append(token)
        self.tokens += 1
        if self.timer is not None and self.limits is not None:
            self.timer.reschedule(self.limits.next_token())
        if self.on_token is not None:
            self.on_token(token)

    async def whole(self, response: httpx.Response, prompt_estimate: int) -> Completion:
        raw = "".join([line + "\n" async for line in self._lines(response)])
        try:
            data = json.loads(raw)
        except ValueError:
            raise CallFailed(
                "protocol_error", f"the reply is not JSON ({_clip(raw, 120)})"
            ) from None
        if not isinstance(data, dict):
            raise CallFailed("protocol_error", "the reply is not a JSON object")
        if data.get("error"):
            raise CallFailed(
                "error_in_reply", f"the server reported an error: {_error_message(data)}"
            )
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise CallFailed("protocol_error", "the reply has no choices[0].message") from None
        if not str(text).strip():
            raise CallFailed("empty", _empty_reason(prompt_estimate))
        return _completion(
            str(text),
            data.get("model") or self.endpoint.model,
            self.endpoint,
            data.get("usage") or {},
            None,
            prompt_estimate,
        )


def _completion(
    text: str,
    model: str,
    endpoint: EndpointSettings,
    usage: dict,
    streamed_tokens: int | None,
    prompt_estimate: int,
) -> Completion:
    reported = bool(usage.get("completion_tokens"))
    completion_tokens = (
        usage.get("completion_tokens") or streamed_tokens or approximate_tokens(text)
    )
    return Completion(
        text,
        model,
        endpoint.base_url,
        usage.get("prompt_tokens") or prompt_estimate,
        completion_tokens,
        usage_reported=reported,
    )


def _check_status(response: httpx.Response, body: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        location = redact_url(response.headers.get("location", "")) or "nowhere"
        raise CallFailed(
            "redirect",
            f"HTTP {status}: the endpoint redirects to {location}; set base_url to the address "
            "it redirects to (Lore does not follow redirects with your prompt and key)",
        )
    message = f"HTTP {status}" + (f": {body}" if body else "")
    if status in RETRY_STATUSES:
        raise CallFailed(
            "http_error",
            message,
            retryable=True,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    raise CallFailed("http_error", message)


async def _error_body(response: httpx.Response, max_bytes: int) -> str:
    """The message of an error reply, whole up to MAX_ERROR_CHARS; '' for a success."""
    if 200 <= response.status_code < 300:
        return ""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > min(max_bytes, 64 * 1024):
            break
    text = data.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return _clip(text, MAX_ERROR_CHARS)
    return _clip(_error_message(parsed) if isinstance(parsed, dict) else text, MAX_ERROR_CHARS)


def _error_message(data: dict) -> str:
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or data.get("detail") or data.get("message") or data)


def _context_from(data: object, model: str) -> int:
    """A context size in a /v1/models or /props reply: 0 when it has none."""
    if not isinstance(data, dict):
        return 0
    settings = data.get("default_generation_settings")
    if isinstance(settings, dict) and isinstance(settings.get("n_ctx"), int):
        return settings["n_ctx"]  # llama.cpp /props
    if isinstance(data.get("n_ctx"), int):
        return data["n_ctx"]
    models = [m for m in data.get("data") or [] if isinstance(m, dict)]
    chosen = [m for m in models if m.get("id") == model] or models[:1]
    for entry in chosen:
        if isinstance(entry.get("max_model_len"), int):
            return entry["max_model_len"]  # vLLM
        meta = entry.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("n_ctx"), int):
            return meta["n_ctx"]
    return 0


def _empty_reason(prompt_estimate: int) -> str:
    return (
        f"the endpoint sent no text for a prompt of about {prompt_estimate} tokens; a prompt "
        "that does not fit the model's context does this on some servers (llm.context_tokens)"
    )


def _approximate_tokens(messages: list[dict[str, str]]) -> int:
    return sum(approximate_tokens(m.get("content", "")) + 4 for m in messages)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
