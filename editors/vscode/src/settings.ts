/**
 * VS Code's `lore.*` settings are camelCase (`lore.hover.minScore`); the server's settings tree
 * is snake_case (`hover.min_score`). Settings that only concern the extension (`server`,
 * `trace`) stay here.
 *
 * Only settings the user has set are sent: a contributed default would otherwise override the
 * team's `lore.toml`, which the server reads first.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const CLIENT_ONLY = new Set(["server", "trace"]);

export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

function convert(value: unknown): Json {
  if (Array.isArray(value)) {
    return value.map(convert);
  }
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [key, inner] of Object.entries(value)) {
      if (inner !== undefined) {
        out[snakeCase(key)] = convert(inner);
      }
    }
    return out;
  }
  return value as Json;
}

/** The `lore` section as the server expects it. */
export function toServerSettings(section: Record<string, unknown> | undefined): { [key: string]: Json } {
  const serverOnly = Object.entries(section ?? {}).filter(([key]) => !CLIENT_ONLY.has(key));
  return convert(Object.fromEntries(serverOnly)) as { [key: string]: Json };
}

/** What `WorkspaceConfiguration.inspect` reports of one setting (the parts that matter here). */
export interface Inspected {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/**
 * The `lore` section holding only the settings the user set, at any scope, nested by their
 * dotted keys (`hover.minScore` → `{hover: {minScore}}`); the most specific scope wins.
 */
export function userSection(
  keys: readonly string[],
  inspect: (key: string) => Inspected | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const seen = inspect(key);
    const value = seen?.workspaceFolderValue ?? seen?.workspaceValue ?? seen?.globalValue;
    if (value === undefined) {
      continue;
    }
    const parts = key.split(".");
    let node = out;
    for (const part of parts.slice(0, -1)) {
      node = (node[part] ??= {}) as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  return out;
}
