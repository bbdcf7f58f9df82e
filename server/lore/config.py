"""Lore's settings: one pydantic model tree for every source of configuration.

Sources, later ones win:

1. the defaults below;
2. the user's own ``lore.toml`` in ``$XDG_CONFIG_HOME/lore/`` (``~/.config/lore/``);
3. the workspace's ``lore.toml`` at the root, or else ``[tool.lore]`` in its ``pyproject.toml``;
4. ``LORE_*`` environment variables, nested keys joined with ``__``
   (``LORE_LLM__TIMEOUT_S=10``);
5. overlays handed in by the caller, in order: the language server passes its
   ``initializationOptions`` and then the ``workspace/configuration`` section ``lore``.

A workspace file comes with the repository, so it is not trusted: settings marked
:data:`USER_ONLY` (where data is sent, which variable is sent as a key) are taken from it only
when the user's own configuration lists the workspace in ``trust.workspaces``. Otherwise they are
dropped and :attr:`Settings.trust_notice` says which and why.

Invalid values raise :class:`SettingsError`, whose message names the key in dotted form.
Secrets never live here: an endpoint names the *environment variable* that holds its key.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)

CONFIG_FILE = "lore.toml"

USER_ONLY: dict[str, Any] = {"user_only": True}
"""``json_schema_extra`` of a setting that sends data off the machine, or decides what is sent.
A workspace's own file cannot set it unless the user trusts that workspace."""


class SettingsError(ValueError):
    """A setting is invalid. ``key`` is its dotted path, such as ``llm.timeout_s``."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"invalid setting {key}: {message}")
        self.key = key
        self.message = message


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IndexSettings(_Section):
    dir: str = Field(".lore", description="Index folder; relative paths are taken from the root.")
    extensions: list[str] = Field(
        default_factory=lambda: ["md", "markdown", "mdx", "rst", "txt", "adoc"],
        description="File extensions that make up the knowledge base.",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Extra gitignore-style patterns to leave out, on top of .gitignore, "
        ".ignore and .loreignore.",
    )
    max_file_bytes: int = Field(
        2_000_000, gt=0, description="Files larger than this are skipped and listed as such."
    )
    batch_files: int = Field(
        500, gt=0, description="Files written per crash-safe batch (one tantivy commit each)."
    )
    watch: bool = Field(True, description="The language server re-indexes files that change.")
    debounce_ms: int = Field(
        300, ge=0, description="Quiet time before a burst of file changes is re-indexed."
    )

    @field_validator("extensions")
    @classmethod
    def _normalise_extensions(cls, value: list[str]) -> list[str]:
        cleaned = [ext.lower().lstrip(".") for ext in value if ext.strip(" .")]
        if not cleaned:
            raise ValueError("at least one extension is needed")
        return cleaned


class ChunkSettings(_Section):
    max_chars: int = Field(2400, ge=200, description="Upper bound of a chunk's size.")
    overlap_chars: int = Field(
        150, ge=0, description="Text repeated between neighbouring chunks of a long section."
    )


class EmbedderSettings(_Section):
    kind: Literal["hashed"] = Field(
        "hashed", description="The embedder. `hashed` is feature hashing: offline, no model."
    )
    dim: int = Field(256, ge=16, le=4096, description="Embedding dimension.")


class SearchSettings(_Section):
    bm25_candidates: int = Field(50, ge=1, description="Full-text candidates taken for fusion.")
    vector_candidates: int = Field(50, ge=1, description="Vector candidates taken for fusion.")
    fusion: Literal["rrf", "relative"] = Field(
        "rrf",
        description="How BM25 and vector rankings combine: reciprocal rank fusion, or relative "
        "score fusion (BM25 scores over the best one, plus the weighted cosine similarity).",
    )
    rrf_k: float = Field(
        3.0, gt=0, description="The k of reciprocal rank fusion (small: top ranks count most)."
    )
    title_boost: float = Field(
        0.2, ge=0, description="BM25 weight of a chunk's document title (the body weighs 1)."
    )
    heading_boost: float = Field(
        0.3,
        ge=0,
        description="BM25 weight of a chunk's heading path (the body weighs 1, and already "
        "holds the section's own heading).",
    )
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the full-text ranking in fusion.")
    vector_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the hashed-vector ranking in fusion; 0 (the default) leaves the "
        "vector scan out of search: on SciFact and the AWS docs it added no quality and cost "
        "50-150 times the full-text search's latency.",
    )
    default_k: int = Field(10, ge=1, le=1000, description="Results returned when none is asked.")
    min_similarity: float = Field(
        0.15, ge=0, le=1, description="Vector candidates less similar than this are left out."
    )


class SemanticSettings(_Section):
    enabled: bool = Field(
        True,
        description="Rerank a question's full-text candidates (`lore/ask`) by sentence "
        "embeddings (all-MiniLM-L6-v2, int8, on the CPU) of their sections' title, headings "
        "and first lines, using the sections embedded so far. `lore/search` stays full-text: "
        "embedding the query would cost more than its latency budget.",
    )
    weight: float = Field(
        0.5,
        ge=0,
        description="Weight of the cosine similarity against the BM25 score relative to the "
        "best candidate's.",
    )
    candidates: int = Field(
        20, ge=1, le=200, description="Pages the question's own search brings to reranking."
    )
    embed_missing: int = Field(
        0,
        ge=0,
        description="Sections an answer may embed on the spot when the background job has not "
        "reached them (each costs tens of milliseconds of CPU); 0 uses only what is embedded.",
    )
    background: bool = Field(
        True,
        description="The language server embeds the sections after indexing, in one thread "
        "at the lowest CPU priority; the pages' first sections come first.",
    )


class HoverSettings(_Section):
    enabled: bool = Field(True, description="Show hovers from the knowledge base.")
    min_score: float = Field(
        0.5, ge=0, le=1, description="Hovers below this match quality are not shown."
    )
    max_lines: int = Field(8, ge=1, description="Lines of source text in a hover.")


class CompletionSettings(_Section):
    enabled: bool = Field(True, description="Offer knowledge-base terms as completions.")
    min_prefix: int = Field(2, ge=1, description="Characters typed before completions appear.")
    max_items: int = Field(50, ge=1, description="Completion items returned at most.")


class LinkSettings(_Section):
    diagnostics: bool = Field(
        True,
        description="Report links to missing pages and headings in open documents and in "
        "`lore check`. External URLs are never checked.",
    )
    anchors: bool = Field(True, description="Also report links to headings a page lacks.")
    severity: Literal["error", "warning", "information", "hint"] = Field(
        "warning", description="Severity of a broken-link diagnostic."
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Glob patterns of link targets never reported (such as `images/*`).",
    )


class CacheSettings(_Section):
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Byte budget of the response cache.")
    ttl_s: float = Field(600.0, gt=0, description="Seconds a cached response stays fresh.")


class QueueSettings(_Section):
    workers: int = Field(4, ge=1, le=64, description="Worker threads that run queued requests.")
    interactive_deadline_ms: int = Field(
        2000, gt=0, description="Hover/completion requests older than this are dropped."
    )
    user_deadline_ms: int = Field(
        30000,
        gt=0,
        description="Search, symbol and code-action requests older than this are dropped.",
    )
    background_concurrency: int = Field(
        1, ge=1, description="Background jobs (indexing) that run at once."
    )


class RaiseSettings(_Section):
    max_rounds: int = Field(2, ge=0, le=10, description="Extra retrieval rounds when unsure.")
    confidence_threshold: float = Field(
        0.35, ge=0, le=1, description="Below this retrieval confidence Lore searches again."
    )
    max_sources: int = Field(5, ge=1, le=20, description="Sources given to synthesis.")
    max_sentences: int = Field(4, ge=1, le=20, description="Sentences in an extractive answer.")
    decline_below: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Lore declines to answer when its calibrated confidence (the probability "
        "that the docs answer the question) is below this, and offers the closest pages.",
    )


class EndpointSettings(_Section):
    base_url: str = Field(
        description="OpenAI-compatible base URL, such as http://127.0.0.1:11434/v1"
    )
    model: str = Field(description="Model name the endpoint serves.")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable that holds the API key."
    )

    def api_key(self) -> SecretStr | None:
        """The key, read from the environment now; never stored or logged."""
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env)
        return SecretStr(value) if value else None


class LlmSettings(_Section):
    provider: Literal["extractive", "openai"] = Field(
        "extractive", description="`extractive` answers offline; `openai` uses the endpoints."
    )
    timeout_s: float = Field(
        120.0,
        gt=0,
        description="Total deadline of an LLM answer: no retry, failover or Retry-After "
        "goes past it.",
    )
    connect_timeout_s: float = Field(3.0, gt=0, description="Timeout of connecting to an endpoint.")
    first_token_timeout_s: float = Field(
        90.0,
        gt=0,
        description="Longest wait for the first token (prompt processing on a CPU can take "
        "tens of seconds).",
    )
    idle_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait between two tokens of a streamed answer."
    )
    max_reply_bytes: int = Field(
        2_000_000, ge=1024, description="A reply larger than this is cut off and counts as failed."
    )
    context_tokens: int = Field(
        4096,
        ge=512,
        description="The model's context, in tokens. Lore fills the smaller of this and the "
        "size the server reports (vLLM's /v1/models, llama.cpp's /props).",
    )
    rules_in: Literal["user", "system"] = Field(
        "user",
        description="Where the prompt's rules go: `user` works with every chat template "
        "(some, such as Gemma's, drop the system message); `system` for models that follow it.",
    )
    max_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries on 429, 5xx and connection errors (never on a read timeout).",
    )
    backoff_base_s: float = Field(
        0.5, ge=0, description="First retry delay; it doubles, with jitter."
    )
    circuit_failures: int = Field(
        3, ge=1, description="Consecutive failures that open an endpoint's circuit."
    )
    circuit_reset_s: float = Field(
        30.0, gt=0, description="Seconds before an open circuit is retried."
    )
    temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(
        300, ge=16, description="Longest answer, in tokens; kept free in the model's context."
    )
    stream: bool = Field(True, description="Stream tokens as they are generated.")
    endpoints: list[EndpointSettings] = Field(
        default_factory=list,
        description="Endpoints, tried in order of health and speed.",
        json_schema_extra=USER_ONLY,
    )
    audit_prompts: bool = Field(
        False, description="Also write full prompts into the audit log (off: metadata only)."
    )


class TrustSettings(_Section):
    workspaces: list[str] = Field(
        default_factory=list,
        description="Workspace folders whose own lore.toml may set the user-only settings.",
        json_schema_extra=USER_ONLY,
    )


class KbSettings(_Section):
    url: SecretStr | None = Field(
        None,
        description="A shared knowledge base in PostgreSQL, `postgresql://user@host:port/db` "
        "(a read-only role; see docs/team.md). When set, the first workspace folder is served "
        "from it instead of a local index. A password in it is never shown or logged; "
        "`PGPASSWORD` or `~/.pgpass` keep it out of the settings.",
        json_schema_extra=USER_ONLY,
    )


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")


class Settings(BaseModel):
    """Every setting of Lore. See ``docs/configuration.md`` for the reference."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    index: IndexSettings = Field(default_factory=IndexSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    semantic: SemanticSettings = Field(default_factory=SemanticSettings)
    hover: HoverSettings = Field(default_factory=HoverSettings)
    completion: CompletionSettings = Field(default_factory=CompletionSettings)
    links: LinkSettings = Field(default_factory=LinkSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    raise_: RaiseSettings = Field(default_factory=RaiseSettings, alias="raise")
    llm: LlmSettings = Field(default_factory=LlmSettings)
    trust: TrustSettings = Field(default_factory=TrustSettings)
    kb: KbSettings = Field(default_factory=KbSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    _trust_notice: str | None = PrivateAttr(default=None)

    def index_dir(self, root: Path) -> Path:
        """Where the index of ``root`` lives."""
        path = Path(self.index.dir).expanduser()
        return path if path.is_absolute() else root / path

    @property
    def trust_notice(self) -> str | None:
        """Why settings of the workspace file were ignored, or None when none were."""
        return self._trust_notice

    def public_dict(self) -> dict[str, Any]:
        """The settings as plain data, safe to show or log (keys are never in here)."""
        return self.model_dump(mode="json", by_alias=True)


ENV_PREFIX = "LORE_"
ENV_NESTED_DELIMITER = "__"


def env_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``LORE_*`` environment variables as settings: ``LORE_LLM__TIMEOUT_S=9`` is
    ``{"llm": {"timeout_s": "9"}}`` (names in any case). A variable that names no section is
    not a setting (``LORE_DEBUG``) and is left out. A whole section, and a list, table or
    object value, is read as JSON.

    Read here rather than by pydantic-settings, whose import (asyncio, ssl, dotenv, its
    command-line parser) cost a fifth of a second before ``lore serve`` could answer a hover.
    """
    environ = os.environ if environ is None else environ
    sections = {field.alias or name: field for name, field in Settings.model_fields.items()}
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
        section = sections.get(path[0])
        if section is None or not all(path):
            continue
        target = section.annotation
        if len(path) > 1 and isinstance(target, type) and issubclass(target, BaseModel):
            field = target.model_fields.get(path[1]) if len(path) == 2 else None
            target = field.annotation if field is not None else None
        value: Any = raw
        if _is_structured(target):
            try:
                value = json.loads(raw)
            except ValueError:
                raise SettingsError(".".join(path), f"{name} is not valid JSON") from None
        table = values
        for key in path[:-1]:
            table = table.setdefault(key, {})
            if not isinstance(table, dict):
                break
        else:
            table[path[-1]] = value
    return values


def _is_structured(annotation: Any) -> bool:
    """Whether a setting of this type is given as JSON: a list, table or object."""
    if annotation is None:
        return False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    origin = get_origin(annotation)
    if origin in (list, dict, tuple, set, frozenset):
        return True
    return any(_is_structured(arg) for arg in get_args(annotation) if arg is not type(None))


def user_config_path() -> Path:
    """The user's own settings file: ``$XDG_CONFIG_HOME/lore/lore.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "lore" / CONFIG_FILE


def config_file_name(root: Path) -> str:
    """The workspace file that holds ``root``'s settings, as a user would name it."""
    return CONFIG_FILE if (root / CONFIG_FILE).is_file() else "pyproject.toml [tool.lore]"


def read_config_file(root: Path) -> dict[str, Any]:
    """The settings table of ``root``: ``lore.toml``, else ``[tool.lore]`` of ``pyproject.toml``."""
    lore_toml = root / CONFIG_FILE
    pyproject = root / "pyproject.toml"
    try:
        if lore_toml.is_file():
            return tomllib.loads(lore_toml.read_text(encoding="utf-8"))
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            table = data.get("tool", {}).get("lore", {})
            return table if isinstance(table, dict) else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        source = lore_toml if lore_toml.is_file() else pyproject
        raise SettingsError(source.name, str(exc)) from exc
    return {}


def read_user_config() -> dict[str, Any]:
    """The user's own settings file, or nothing when there is none."""
    path = user_config_path()
    try:
        if path.is_file():
            return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(str(path), str(exc)) from exc
    return {}


def user_only_keys() -> list[str]:
    """Dotted keys of the settings a workspace file may set only with the user's consent."""
    keys = []
    for section_name, section_field in Settings.model_fields.items():
        model = section_field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, field in model.model_fields.items():
            if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get(
                "user_only"
            ):
                keys.append(f"{section_field.alias or section_name}.{name}")
    return keys


def _without_user_only(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``values`` less the user-only settings, and the dotted keys that were dropped."""
    kept = {k: dict(v) if isinstance(v, Mapping) else v for k, v in values.items()}
    dropped = []
    for key in user_only_keys():
        section, name = key.split(".")
        table = kept.get(section)
        if isinstance(table, dict) and name in table:
            del table[name]
            dropped.append(key)
    return kept, dropped


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``, merging nested tables; lists and scalars are replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(root: Path | None = None, *overlays: Mapping[str, Any] | None) -> Settings:
    """Settings for ``root`` from every source; ``overlays`` win in the order given.

    Raises :class:`SettingsError` naming the first invalid key.
    """
    user_values = read_user_config()
    workspace_values = read_config_file(root) if root is not None else {}
    merged: dict[str, Any] = {}
    for overlay in overlays:
        if overlay:
            merged = deep_merge(merged, overlay)
    notice = None
    safe_values, dropped = _without_user_only(workspace_values)
    if root is not None and dropped:
        # The user's own sources alone decide whether this workspace is trusted.
        if _is_listed(root, _build(user_values, merged).trust.workspaces):
            safe_values = workspace_values
        else:
            notice = _ignored_message(root, dropped)
    settings = _build(deep_merge(user_values, safe_values), merged)
    settings._trust_notice = notice
    return settings


def _build(file_values: dict[str, Any], overlay: dict[str, Any]) -> Settings:
    """The overlays over the environment over the files."""
    values = deep_merge(deep_merge(file_values, env_values()), overlay)
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise _settings_error(exc) from None


def _is_listed(root: Path, workspaces: list[str]) -> bool:
    here = root.resolve()
    return any(Path(w).expanduser().resolve() == here for w in workspaces)


def _ignored_message(root: Path, dropped: list[str]) -> str:
    keys = ", ".join(dropped)
    return (
        f"{root / config_file_name(root)} sets {keys}, which decide where data is sent; "
        f"ignored, because a workspace's own file may not set them. Set them in "
        f"{user_config_path()}, a LORE_* environment variable or the editor's settings, or add "
        f"this folder to trust.workspaces there (see docs/security.md)."
    )


def _settings_error(exc: ValidationError) -> SettingsError:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__") or "settings"
    return SettingsError(key, first.get("msg", "invalid value"))


def reference_rows() -> list[tuple[str, str, str, str]]:
    """``(key, type, default, meaning)`` for every setting, for the configuration reference."""
    rows: list[tuple[str, str, str, str]] = []
    user_only = set(user_only_keys())
    for section_name, section_field in Settings.model_fields.items():
        section_key = section_field.alias or section_name
        model = section_field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, field in model.model_fields.items():
            default = field.get_default(call_default_factory=True)
            key = f"{section_key}.{name}"
            meaning = field.description or ""
            if key in user_only:
                meaning += " **User-only.**"
            rows.append(
                (
                    key,
                    _type_name(field.annotation),
                    "(required)" if field.is_required() else _toml_value(default),
                    meaning,
                )
            )
    return rows


def reference_markdown() -> str:
    """The settings table of ``docs/configuration.md`` (a test keeps the two equal)."""
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, type_name, default, meaning in reference_rows():
        lines.append(f"| `{key}` | {type_name} | `{default}` | {meaning} |")
    return "\n".join(lines) + "\n"


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " or ".join(f'"{choice}"' for choice in get_args(annotation))
    text = str(annotation) if get_args(annotation) else annotation.__name__
    return (
        text.replace("typing.", "")
        .replace("lore.config.", "")
        .replace("pydantic.types.SecretStr", "str")
        .replace("EndpointSettings", "endpoint")
        .replace(" | ", " or ")
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if value is None:
        return "(unset)"
    return str(value)


if __name__ == "__main__":  # python -m lore.config: print the reference table
    print(reference_markdown(), end="")
