import assert from "node:assert/strict";
import { test } from "node:test";
import { snakeCase, toServerSettings, userSection } from "../settings";

test("camelCase keys become the server's snake_case", () => {
  assert.equal(snakeCase("minScore"), "min_score");
  assert.equal(snakeCase("maxFileBytes"), "max_file_bytes");
  assert.equal(snakeCase("enabled"), "enabled");
});

test("the lore section maps to the server's settings tree", () => {
  const mapped = toServerSettings({
    hover: { enabled: false, minScore: 0.7 },
    llm: {
      provider: "openai",
      endpoints: [{ baseUrl: "http://127.0.0.1:11434/v1", model: "qwen2.5:7b", apiKeyEnv: "OPENAI_API_KEY" }],
    },
    raise: { maxRounds: 1 },
    server: { command: "lore", args: [] },
    trace: { server: "off" },
  });
  assert.deepEqual(mapped, {
    hover: { enabled: false, min_score: 0.7 },
    llm: {
      provider: "openai",
      endpoints: [{ base_url: "http://127.0.0.1:11434/v1", model: "qwen2.5:7b", api_key_env: "OPENAI_API_KEY" }],
    },
    raise: { max_rounds: 1 },
  });
});

test("an empty section is an empty tree", () => {
  assert.deepEqual(toServerSettings(undefined), {});
});

test("only settings the user set are sent, so lore.toml keeps its say", () => {
  const scopes: Record<string, { globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown }> = {
    "hover.minScore": { globalValue: 0.6, workspaceValue: 0.7 },
    "llm.provider": { workspaceFolderValue: "openai", globalValue: "extractive" },
    "chunk.maxChars": {},
  };
  const section = userSection(["hover.minScore", "hover.enabled", "llm.provider", "chunk.maxChars"], (key) => scopes[key]);
  assert.deepEqual(toServerSettings(section), {
    hover: { min_score: 0.7 },
    llm: { provider: "openai" },
  });
});
