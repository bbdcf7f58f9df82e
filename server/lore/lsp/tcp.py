"""``lore serve --tcp``: loopback only, one client at a time, and a token before anything else.

Any process on the host can connect to a loopback port, and the server reads the workspace
and answers from it. So the listening address must be a loopback one, the first client is the
only one (the server ends with it, as pygls's TCP server does), messages are framed as over
stdio (``lore.lsp.protocol``), and the client is served only once its ``initialize`` carries
the token in ``initializationOptions.token``:
until then every request gets an error and every notification is dropped. The token comes
from ``LORE_TCP_TOKEN``, or is made at start and printed on stderr (which only the user who
started the server sees).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcServerNotInitialized
from pygls.io_ import StdoutWriter

from lore.lsp.protocol import run_stdio

if TYPE_CHECKING:
    from lore.lsp.server import LoreProtocol, LoreServer

log = logging.getLogger("lore.lsp")

TOKEN_ENV = "LORE_TCP_TOKEN"


class NotLoopback(ValueError):
    """The address to listen on is not a loopback address."""


def loopback_host(host: str) -> str:
    """``host`` as an address to bind, if it is loopback (``localhost`` means 127.0.0.1)."""
    if host in ("", "localhost"):
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise NotLoopback(f"{host!r} is not a loopback address such as 127.0.0.1") from None
    if not address.is_loopback:
        raise NotLoopback(
            f"{host} is reachable from other machines; lore serve --tcp listens on loopback "
            "only (127.0.0.1 or ::1)"
        )
    return str(address)


def admit(protocol: LoreProtocol, message: Any) -> bool:
    """True when ``message`` may be handled: the connection has shown the token, or this is
    the ``initialize`` that shows it (the token is then taken out of its options)."""
    token = protocol.required_token
    if token is None:
        return True
    method = getattr(message, "method", None)
    msg_id = getattr(message, "id", None)
    if method == "initialize":
        options = message.params.initialization_options
        offered = options.pop("token", None) if isinstance(options, dict) else None
        if isinstance(offered, str) and secrets.compare_digest(offered, token):
            protocol.required_token = None
            return True
        log.warning("refused a TCP client: initialize without the right token")
        reason = "initializationOptions.token is missing or wrong"
    else:
        reason = "send initialize with initializationOptions.token first"
    if msg_id is not None and method is not None:
        protocol.reject(
            msg_id, JsonRpcServerNotInitialized(f"Lore over TCP needs a token: {reason}")
        )
    return False


def serve_tcp(server: LoreServer, host: str, port: int) -> int:
    """Listen on loopback ``host:port``, serve the first client with Lore's framing, and end
    with it; the process's exit status (as over stdio)."""
    bind = loopback_host(host)
    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)
    if TOKEN_ENV not in os.environ:
        print(f"lore: TCP token (pass as initializationOptions.token): {token}", file=sys.stderr)
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.create_server((bind, port), family=family, backlog=1) as listener:
        print(f"lore: listening on {bind}:{port} (loopback only)", file=sys.stderr, flush=True)
        conn, _ = listener.accept()
    # The listener is closed: a second client is refused while this one is served.
    with conn, conn.makefile("wb") as out:
        server.protocol.required_token = token
        server._stop_event = threading.Event()
        server.protocol.set_writer(StdoutWriter(out))
        return run_stdio(server.protocol, conn, server._stop_event, server.shutdown)
