"""Settings from the client: initializationOptions and the ``lore`` configuration section.

Each source is an overlay on the workspace's ``lore.toml`` (see ``lore.config.load_settings``).
An invalid value is named in a message to the user and the last good settings stay in force.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from lore._native import ResponseCache
from lore.config import SettingsError, load_settings
from lore.lsp.server import LoreServer

log = logging.getLogger("lore.lsp")


def register(server: LoreServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: LoreServer, params: types.DidChangeConfigurationParams
    ) -> None:
        # Clients either push the settings (the old way) or expect us to pull them.
        pushed = params.settings.get("lore") if isinstance(params.settings, dict) else None
        if isinstance(pushed, dict):
            ls.client_settings = pushed
        else:
            await read_client_settings(ls, report=False)
        apply_settings(ls, report=True)


async def read_client_settings(ls: LoreServer, *, report: bool = False) -> None:
    """Pull the ``lore`` section with workspace/configuration, if the client offers it."""
    caps = ls.client_capabilities.workspace
    if not (caps and caps.configuration):
        return
    try:
        items = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="lore")])
        )
    except Exception:  # noqa: BLE001 - a client that cannot answer keeps its settings
        log.warning("the client did not answer workspace/configuration", exc_info=True)
        return
    if items and isinstance(items[0], dict):
        ls.client_settings = items[0]
    if report:
        apply_settings(ls, report=True)


def apply_settings(ls: LoreServer, *, report: bool) -> None:
    """Settings from every source; on an invalid value, say which key and keep the last good."""
    root = ls.roots[0] if ls.roots else None
    try:
        settings = load_settings(root, ls.init_options, ls.client_settings)
    except SettingsError as exc:
        log.warning("%s; keeping the previous settings", exc)
        ls.show(f"{exc}. The previous value is kept.", types.MessageType.Warning)
        return
    if settings.trust_notice and settings.trust_notice != ls.settings.trust_notice:
        log.warning("%s", settings.trust_notice)
        ls.show(settings.trust_notice, types.MessageType.Warning)
    changed_cache = settings.cache != ls.settings.cache
    ls.settings = settings
    if changed_cache:
        ls.cache = ResponseCache(settings.cache.max_bytes, settings.cache.ttl_s)
    else:
        ls.cache.clear()  # cached hovers were rendered under the old settings
    for kb in ls.bases():
        kb.settings = settings
    if report:
        log.info("settings updated")
