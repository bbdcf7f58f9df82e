"""Where a link's destination lies inside a knowledge base: plain path arithmetic, no I/O."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

# `https:`, `mailto:`, `ftp:`: a scheme of two or more characters (one would be a drive letter).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")

# Kinds whose target is a path relative to the linking page (or to the root when it starts
# with `/`). Wiki-links name a page, `ref` names a label; both are resolved by name.
PATH_KINDS = frozenset({"inline", "reference", "doc"})


def is_external(target: str) -> bool:
    """A URL (``https://…``, ``mailto:…``) or a protocol-relative ``//host/…`` link."""
    return bool(_SCHEME.match(target)) or target.startswith("//")


def link_destination(from_path: str, kind: str, target: str) -> str | None:
    """The root-relative path a path link names, normalised (``a/../b.md`` is ``b.md``).

    ``from_path`` is the linking page's root-relative path. An empty target is the page
    itself (a link to one of its own headings). A path without an extension (as `:doc:` roles
    write them) is matched against pages by ``page_candidates``. None for wiki-links, labels,
    external URLs, and paths that climb out of the root.
    """
    if kind not in PATH_KINDS or is_external(target):
        return None
    if not target:
        return from_path
    target = unquote(target.split("?", 1)[0])
    if target.startswith("/"):
        joined = target.lstrip("/")
    else:
        joined = posixpath.join(posixpath.dirname(from_path), target)
    path = posixpath.normpath(joined)
    if path == ".." or path.startswith("../"):
        return None
    return "" if path == "." else path


def page_candidates(path: str) -> list[str]:
    """The indexed paths a link to ``path`` may mean: itself, with an extension, or a folder's
    README or index page."""
    stem = path.rstrip("/")
    if posixpath.splitext(stem)[1] and not path.endswith("/"):
        return [path]
    candidates = [path] if path else []
    if stem:
        candidates += [f"{stem}.md", f"{stem}.rst", f"{stem}.markdown", f"{stem}.txt"]
    prefix = f"{stem}/" if stem else ""
    candidates += [f"{prefix}README.md", f"{prefix}index.md", f"{prefix}index.rst"]
    return candidates
