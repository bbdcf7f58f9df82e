import assert from "node:assert/strict";
import { test } from "node:test";
import { locateCommand, notFoundMessage, resolveServerCommand, splitArgs } from "../command";

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

test("a bare command is looked up on PATH, a path is taken as it is", () => {
  const present = new Set(["/venv/bin/lore", "/usr/bin/python3"]);
  const isExecutable = (path: string) => present.has(path);
  assert.equal(locateCommand("lore", "/usr/bin:/venv/bin", isExecutable, "linux"), "/venv/bin/lore");
  assert.equal(locateCommand("lore", "/usr/bin:/usr/local/bin", isExecutable, "linux"), undefined);
  assert.equal(locateCommand("/usr/bin/python3", "", isExecutable, "linux"), "/usr/bin/python3");
  assert.equal(locateCommand("/opt/lore", "/venv/bin", isExecutable, "linux"), undefined);
});

test("on Windows the executable suffixes count", () => {
  const isExecutable = (path: string) => path === "C:\\venv\\Scripts\\lore.exe";
  assert.equal(locateCommand("lore", "C:\\Windows;C:\\venv\\Scripts", isExecutable, "win32"), "C:\\venv\\Scripts\\lore.exe");
});

test("a missing server names the setting to set", () => {
  const message = notFoundMessage("lore");
  assert.match(message, /"lore" was not found/);
  assert.match(message, /lore\.server\.command/);
});
