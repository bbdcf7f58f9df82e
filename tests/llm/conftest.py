"""Fixtures for the LLM tests: scripted chat-completions servers on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from support.chat_server import ChatServer


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer()
    yield server
    server.close()


@pytest.fixture
def second_chat_server() -> Iterator[ChatServer]:
    server = ChatServer()
    yield server
    server.close()


@pytest.fixture
def refused_url() -> str:
    """A loopback address where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def library(kb_root):
    """The local backend only: these tests are about the LLM, not where chunks are stored."""
    from conftest import _indexed_library

    yield from _indexed_library(kb_root)
