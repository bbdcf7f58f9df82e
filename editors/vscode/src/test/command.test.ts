import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveServerCommand, splitArgs } from "../command";

const table: [string, Parameters<typeof resolveServerCommand>[0], { command: string; args: string[] }][] = [
  ["PATH by default", { configured: "", extraArgs: [] }, { command: "lore", args: ["serve"] }],
  [
    "the picked Python interpreter",
    { configured: "", extraArgs: [], pythonPath: "/venv/bin/python" },
    { command: "/venv/bin/python", args: ["-m", "lore", "serve"] },
  ],
  [
    "a configured command wins",
    { configured: "/opt/lore/bin/lore", extraArgs: ["--tcp", "127.0.0.1:2087"], pythonPath: "/venv/bin/python" },
    { command: "/opt/lore/bin/lore", args: ["serve", "--tcp", "127.0.0.1:2087"] },
  ],
  [
    "a configured command line keeps its arguments",
    { configured: '"/my env/python" -m lore serve', extraArgs: [] },
    { command: "/my env/python", args: ["-m", "lore", "serve"] },
  ],
];

for (const [name, inputs, expected] of table) {
  test(`server command: ${name}`, () => {
    assert.deepEqual(resolveServerCommand(inputs), expected);
  });
}

test("quoted arguments stay whole", () => {
  assert.deepEqual(splitArgs(`a "b c" 'd e' f`), ["a", "b c", "d e", "f"]);
});
