"""Time limits, cancellation and the byte cap, against a loopback server with the habits of real
local LLM servers (slow prompt processing, pings, one slot)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from lore.config import LlmSettings
from lore.llm.base import Cancelled, ProviderError
from lore.llm.openai import OpenAIProvider
from support.chat_server import ChatServer, Reply, UnacceptedListener

MESSAGES = [{"role": "user", "content": "What is the settlement window?"}]


def settings(*urls: str, **overrides) -> LlmSettings:
    values = {
        "provider": "openai",
        "timeout_s": 20.0,
        "connect_timeout_s": 10.0,
        "first_token_timeout_s": 10.0,
        "idle_timeout_s": 10.0,
        "backoff_base_s": 0.01,
        "max_retries": 2,
        "endpoints": [{"base_url": u, "model": f"model-{n}"} for n, u in enumerate(urls)],
        **overrides,
    }
    return LlmSettings(**values)


@pytest.fixture
def unaccepted() -> Iterator[UnacceptedListener]:
    listener = UnacceptedListener()
    yield listener
    listener.close()


def timed(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except (ProviderError, Cancelled) as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


# --- time limits --------------------------------------------------------------------------


def test_the_connect_limit(unaccepted: UnacceptedListener) -> None:
    provider = OpenAIProvider(settings(unaccepted.url, connect_timeout_s=0.3, max_retries=0))
    error, took = timed(lambda: provider.complete(MESSAGES))
    assert isinstance(error, ProviderError) and "llm.connect_timeout_s" in str(error)
    assert 0.25 <= took < 2.0


@pytest.mark.parametrize("stream", [True, False])
def test_a_first_token_or_read_timeout_is_not_retried(
    chat_server: ChatServer, stream: bool
) -> None:
    # A one-slot server busy with the prompt: a retry would only queue behind the abandoned one.
    chat_server.one_slot = True
    chat_server.replies.extend([Reply(prefill_s=30), Reply()])
    limits = {"first_token_timeout_s": 0.4} if stream else {"timeout_s": 0.4}
    provider = OpenAIProvider(settings(chat_server.url, stream=stream, max_retries=3, **limits))
    error, took = timed(lambda: provider.complete(MESSAGES))
    assert isinstance(error, ProviderError)
    assert ("llm.first_token_timeout_s" if stream else "llm.timeout_s") in str(error)
    assert took < 2.0 and len(chat_server.requests) == 1
    # The request was closed, not left to run: the server saw the client leave at once.
    assert chat_server.disconnected.wait(2)
    assert chat_server.disconnects[0].phase == "prefill"


def test_pings_are_not_tokens(chat_server: ChatServer) -> None:
    # llama-cpp-python sends SSE comments while it processes the prompt.
    chat_server.replies.append(Reply(pings_s=30, ping_every_s=0.05))
    provider = OpenAIProvider(settings(chat_server.url, first_token_timeout_s=0.5, max_retries=0))
    error, took = timed(lambda: provider.complete(MESSAGES))
    assert isinstance(error, ProviderError) and "llm.first_token_timeout_s" in str(error)
    assert took < 2.0


def test_a_slow_prefill_with_pings_then_tokens_is_answered(chat_server: ChatServer) -> None:
    chat_server.replies.append(Reply(pings_s=0.3, ping_every_s=0.05))
    done = OpenAIProvider(settings(chat_server.url)).complete(MESSAGES)
    assert done.text.endswith("UTC. [1]")


def test_the_idle_limit_between_tokens(chat_server: ChatServer) -> None:
    chat_server.replies.append(Reply(text="one two three", token_interval_s=5))
    provider = OpenAIProvider(settings(chat_server.url, idle_timeout_s=0.3, max_retries=0))
    error, took = timed(lambda: provider.complete(MESSAGES))
    assert isinstance(error, ProviderError) and "llm.idle_timeout_s" in str(error)
    assert took < 2.0


def test_the_total_deadline_bounds_a_trickle_of_tokens(chat_server: ChatServer) -> None:
    # One token every 0.1 s never trips the idle limit; the deadline still ends the answer.
    chat_server.replies.append(Reply(text=" ".join(["word"] * 100), token_interval_s=0.1))
    provider = OpenAIProvider(settings(chat_server.url, timeout_s=0.8, max_retries=2))
    error, took = timed(lambda: provider.complete(MESSAGES))
    assert isinstance(error, ProviderError) and "deadline of 0.8 s" in str(error)
    assert took < 1.8 and len(chat_server.requests) == 1


def test_a_retry_after_past_the_deadline_is_not_waited_for(chat_server: ChatServer) -> None:
    chat_server.replies.extend([Reply(status=503, headers={"Retry-After": "3600"}), Reply()])
    provider = OpenAIProvider(settings(chat_server.url, timeout_s=5.0))
    error, took = timed(lambda: provider.complete(MESSAGES))
    assert isinstance(error, ProviderError)
    assert "retry after 3600 s would pass the deadline" in str(error)
    assert took < 1.0 and len(chat_server.requests) == 1


def test_the_deadline_covers_failover(
    chat_server: ChatServer, second_chat_server: ChatServer
) -> None:
    chat_server.replies.append(Reply(prefill_s=30))
    provider = OpenAIProvider(
        settings(chat_server.url, second_chat_server.url, timeout_s=0.5, max_retries=0)
    )
    error, took = timed(lambda: provider.complete(MESSAGES))
    assert isinstance(error, ProviderError) and took < 1.5
    assert second_chat_server.requests == []  # no time was left for it


def test_a_reply_over_the_byte_cap_fails_without_holding_it(chat_server: ChatServer) -> None:
    # One enormous "token" with no line break: the cap counts bytes, not lines.
    huge = b"data: " + b'{"choices": [{"delta": {"content": "' + b"x" * 5_000_000
    chat_server.replies.append(Reply(body=huge))
    provider = OpenAIProvider(settings(chat_server.url, max_reply_bytes=64_000, max_retries=2))
    error, took = timed(lambda: provider.complete(MESSAGES))
    assert isinstance(error, ProviderError) and "llm.max_reply_bytes" in str(error)
    assert len(chat_server.requests) == 1 and took < 3.0


# --- cancellation closes the request at once, in every phase -------------------------------


def cancel_after(event: threading.Event, delay: float) -> Callable[[], bool]:
    at = time.monotonic() + delay

    def cancelled() -> bool:
        if time.monotonic() >= at:
            event.set()
        return event.is_set()

    return cancelled


def test_cancel_while_connecting(unaccepted: UnacceptedListener) -> None:
    cancel = threading.Event()
    provider = OpenAIProvider(settings(unaccepted.url, connect_timeout_s=30))
    error, took = timed(lambda: provider.complete(MESSAGES, cancelled=cancel_after(cancel, 0.2)))
    assert isinstance(error, Cancelled) and took < 0.6


@pytest.mark.parametrize(
    ("reply", "phase"),
    [
        (Reply(prefill_s=30), "prefill"),  # no byte yet, as Ollama while it reads the prompt
        (Reply(pings_s=30, ping_every_s=10), "pings"),  # headers sent, pings far apart
    ],
)
def test_cancel_during_prompt_processing_closes_the_request(
    chat_server: ChatServer, reply: Reply, phase: str
) -> None:
    chat_server.one_slot = True
    chat_server.replies.extend([reply, Reply()])
    cancel = threading.Event()
    provider = OpenAIProvider(settings(chat_server.url))
    started = time.monotonic()
    error, _ = timed(lambda: provider.complete(MESSAGES, cancelled=cancel_after(cancel, 0.3)))
    assert isinstance(error, Cancelled)
    assert chat_server.disconnected.wait(2)
    (gone,) = chat_server.disconnects
    assert gone.phase == phase and gone.at - started < 0.3 + 0.5
    # The one slot is free: the next question is served at once, not after the abandoned one.
    done = provider.complete(MESSAGES)
    assert "02:00" in done.text and chat_server.started[1] - gone.at < 0.5


def test_no_token_reaches_the_caller_after_a_cancel(chat_server: ChatServer) -> None:
    chat_server.replies.append(Reply(text="one two three four", token_interval_s=0.05))
    tokens: list[str] = []
    cancel = threading.Event()

    def on_token(token: str) -> None:
        tokens.append(token)
        if len(tokens) == 2:
            cancel.set()

    error, _ = timed(
        lambda: OpenAIProvider(settings(chat_server.url)).complete(
            MESSAGES, cancelled=cancel.is_set, on_token=on_token
        )
    )
    assert isinstance(error, Cancelled) and tokens == ["one", " two"]
    assert chat_server.disconnected.wait(2)
