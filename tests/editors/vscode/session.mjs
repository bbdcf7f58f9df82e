// Drives the Lore extension in a real VS Code (code-server) through headless Chromium.
// Every step waits for what the user would see, never for a fixed time. What it saw goes to
// $LORE_TEST_RESULTS as JSON, for tests/editors/test_vscode.py to assert.
//
// Environment: LORE_CODE_SERVER (the folder scripts/install-code-server prints), LORE_VSIX,
// LORE_WORKSPACE, LORE_HOME (a scratch folder for code-server's own state), LORE_CHROMIUM.

import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const install = env("LORE_CODE_SERVER");
const workspace = env("LORE_WORKSPACE");
const home = env("LORE_HOME");
const { chromium } = createRequire(join(install, "package.json"))("playwright-core");
const codeServer = join(install, "node_modules", ".bin", "code-server");
const stateArgs = ["--user-data-dir", join(home, "data"), "--extensions-dir", join(home, "extensions")];
const stateEnv = { ...process.env, XDG_CONFIG_HOME: join(home, "config"), XDG_DATA_HOME: join(home, "share") };
const STEP_MS = 60_000;
// Its extractive answer cites several sources of the fixture knowledge base.
const QUESTION = "What do we do when the ledger database is down?";

const results = { timings: {} };
const started = Date.now();
const mark = (name) => (results.timings[name] = (Date.now() - started) / 1000);

function installExtension() {
  const done = spawnSync(codeServer, [...stateArgs, "--install-extension", env("LORE_VSIX")], {
    env: stateEnv,
    encoding: "utf8",
  });
  if (done.status !== 0) throw new Error(`installing the extension failed:\n${done.stdout}\n${done.stderr}`);
}

/** Start code-server on a free loopback port; resolves with its URL once it listens. */
function startCodeServer() {
  const child = spawn(
    codeServer,
    [...stateArgs, "--auth", "none", "--bind-addr", "127.0.0.1:0", "--disable-telemetry", "--disable-update-check",
      "--disable-workspace-trust", "--disable-getting-started-override"],
    { env: stateEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const listening = new Promise((resolve, reject) => {
    const look = (chunk) => {
      output += chunk;
      const found = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (found) resolve(found[1]);
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.on("exit", (code) => reject(new Error(`code-server exited (${code}) before it listened:\n${output}`)));
  });
  return { child, listening, log: () => output };
}

/** Records every notification VS Code shows (toasts hide themselves; this keeps them all). */
function watchNotifications() {
  window.__loreNotifications = [];
  new MutationObserver(() => {
    for (const item of document.querySelectorAll(".notification-list-item")) {
      if (!window.__loreNotifications.includes(item)) window.__loreNotifications.push(item);
    }
  }).observe(document, { childList: true, subtree: true });
}

async function notifications(page) {
  return page.evaluate(() =>
    window.__loreNotifications.map((item) => {
      const icon = item.querySelector(".notification-list-item-icon")?.className ?? "";
      const severity = ["error", "warning", "info"].find((s) => icon.includes(`codicon-${s}`)) ?? "unknown";
      const message = item.querySelector(".notification-list-item-message")?.textContent ?? item.textContent;
      return { severity, message };
    }),
  );
}

async function run(page, url) {
  await page.addInitScript(watchNotifications);
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: STEP_MS });
  mark("workbench");

  // The status bar shows the document count once the server has indexed the folder.
  const status = page.locator(".statusbar-item", { hasText: /Lore: [1-9]\d* docs/ });
  await status.waitFor({ timeout: STEP_MS });
  results.status = (await status.innerText()).trim();
  results.startup_notifications = await notifications(page);
  mark("indexed");

  const statusLine = page.locator(".statusbar-item", { hasText: /^Ln \d+, Col \d+/ });
  const activeTab = page.locator(".editor-group-container.active .tab.active");
  // The editor renders spaces as no-break spaces.
  const editorText = async () =>
    (await page.locator(".editor-group-container.active .monaco-editor .view-lines").innerText()).replace(/\u00a0/g, " ");

  async function openFile(name) {
    await page.keyboard.press("Control+P");
    await page.locator(".quick-input-widget input").waitFor();
    await page.keyboard.type(name);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().waitFor();
    await page.keyboard.press("Enter");
    await activeTab.filter({ hasText: name }).waitFor();
  }
  async function moveTo(line, column) {
    await page.keyboard.press("Control+G");
    await page.locator(".quick-input-widget input").waitFor();
    await page.keyboard.type(`${line}:${column}`);
    // Enter before the input has read the text would be lost.
    await page.locator(".quick-input-list .monaco-list-row", { hasText: `Go to line ${line} and character ${column}` }).waitFor();
    await page.keyboard.press("Enter");
    await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
    await page.locator(".statusbar-item", { hasText: `Ln ${line}, Col ${column}` }).waitFor();
    await page.locator(".editor-group-container.active .monaco-editor.focused").waitFor();
  }
  /** Wait until VS Code's own code-action request for the cursor's place has answered: its
   * light bulb stands within a line of the cursor. A request still pending when the menu opens
   * replaces the menu's actions, and VS Code then cannot run the one picked. */
  async function lightBulbAtCursor() {
    await page.waitForFunction(() => {
      const editor = document.querySelector(".editor-group-container.active .monaco-editor.focused");
      const bulb = editor?.querySelector(".lightBulbWidget");
      const cursor = editor?.querySelector(".cursors-layer .cursor");
      if (!bulb || !cursor || bulb.offsetParent === null) return false;
      const lineHeight = cursor.getBoundingClientRect().height || 19;
      return Math.abs(bulb.getBoundingClientRect().top - cursor.getBoundingClientRect().top) <= 1.5 * lineHeight;
    }, undefined, { timeout: STEP_MS });
  }
  /** Open the code-action menu and run the first action whose title passes `wanted`. */
  async function runCodeAction(wanted) {
    const menu = page.locator(".action-widget");
    const firstAction = menu.locator(".monaco-list-row.action").first();
    const noActions = page.locator(".monaco-editor-overlaymessage", { hasText: "No code actions available" });
    // VS Code may still drop the request the key makes, for one of its own, and then says
    // "No code actions available". A user presses the key again; so does this test.
    await lightBulbAtCursor();
    for (let attempt = 1; ; attempt++) {
      await page.keyboard.press("Control+.");
      await firstAction.or(noActions).first().waitFor({ timeout: STEP_MS });
      if (await firstAction.isVisible()) break;
      if (attempt === 3) throw new Error("VS Code showed no code actions three times");
      await page.keyboard.press("Escape");
      await noActions.waitFor({ state: "hidden" });
    }
    const titles = await menu.locator(".monaco-list-row.action").evaluateAll((rows) => rows.map((r) => r.getAttribute("aria-label")));
    const title = titles.find(wanted);
    if (!title) throw new Error(`no such code action among ${JSON.stringify(titles)}`);
    // The menu takes keys, not clicks (a pointer shield covers it in headless Chromium). Each
    // step waits for the focus to move, so that no key press overtakes it.
    const focusedTitle = () => menu.locator(".monaco-list-row.focused").getAttribute("aria-label");
    for (let focused = await focusedTitle(), i = 0; focused !== title && i < titles.length; i++) {
      await page.keyboard.press("ArrowDown");
      await page.waitForFunction(
        (before) => document.querySelector(".action-widget .monaco-list-row.focused")?.getAttribute("aria-label") !== before,
        focused,
      );
      focused = await focusedTitle();
    }
    if ((await focusedTitle()) !== title) throw new Error(`could not move to the code action ${title}`);
    await page.keyboard.press("Enter");
    await menu.waitFor({ state: "hidden" });
    return title;
  }
  /** Give the cursor a moment to reach `line` after a file opens; the test judges where it is. */
  async function settledAt(line) {
    await page.locator(".statusbar-item", { hasText: new RegExp(`^Ln ${line},`) }).waitFor({ timeout: 10_000 }).catch(() => {});
  }
  async function runCommand(title) {
    await page.keyboard.press("F1");
    await page.locator(".quick-input-widget input").waitFor();
    await page.keyboard.type(title);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
    await page.keyboard.press("Enter");
  }

  await openFile("main.py");

  // Hover on `RequestQueue` (line 4, column 14).
  await moveTo(4, 14);
  await page.keyboard.press("Control+K");
  await page.keyboard.press("Control+I");
  const hover = page.locator(".monaco-hover-content", { hasText: /\.md:\d+/ });
  await hover.waitFor({ timeout: STEP_MS });
  results.hover = {
    text: await hover.innerText(),
    links: await hover.locator("a").evaluateAll((links) => links.map((a) => ({ text: a.textContent, href: a.dataset.href ?? a.getAttribute("href") }))),
  };
  await page.keyboard.press("Escape");
  mark("hover");

  // Completion: a prefix on a new line offers the glossary's term; the line is removed after.
  await moveTo(5, 5);
  await page.keyboard.press("End");
  await page.keyboard.press("Enter");
  await page.keyboard.type("# see Settl");
  await page.keyboard.press("Control+Space");
  const suggestions = page.locator(".suggest-widget .monaco-list-row");
  // The document's own words may show first; Lore's answer joins them when it arrives.
  await suggestions.filter({ hasText: "Settlement window" }).first().waitFor({ timeout: STEP_MS }).catch(() => {});
  results.completion = await suggestions.evaluateAll((rows) => rows.map((r) => r.getAttribute("aria-label") ?? r.textContent));
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+Shift+K");
  mark("completion");

  // "Ask Lore about…" on `RequestQueue` inserts a comment above the line, citing its source.
  await moveTo(4, 14);
  results.ask_action = await runCodeAction((title) => title.startsWith("Ask Lore about"));
  await page.locator(".view-line", { hasText: /\[\d+\]\s\S+\.md:\d+/ }).first().waitFor({ timeout: STEP_MS });
  results.ask_comment = await editorText();
  mark("ask_comment");

  // "Open source: …" opens the file at the line its title names.
  // On `settlement_window`, whose glossary entry is not at the top of its page.
  await moveTo(3, 20);
  results.open_action = await runCodeAction((title) => /^Open source: .*:(\d+)\)$/.test(title));
  await activeTab.filter({ hasText: /\.(md|rst|txt)/ }).waitFor({ timeout: STEP_MS });
  await settledAt(/:(\d+)\)$/.exec(results.open_action)?.[1]);
  results.open_source = { tab: (await activeTab.innerText()).trim(), position: await statusLine.innerText() };
  mark("open_source");

  // Lore: Ask… opens the rendered answer.
  await runCommand("Lore: Ask…");
  await page.locator(".quick-input-widget", { hasText: "Ask Lore" }).waitFor();
  await page.keyboard.press("Control+A");
  await page.keyboard.type(QUESTION);
  await page.keyboard.press("Enter");
  const preview = page.frameLocator("iframe.webview.ready").frameLocator("iframe#active-frame");
  const sources = preview.locator("li", { hasText: /\[\d+\]/ });
  await sources.first().waitFor({ timeout: STEP_MS });
  results.answer = {
    tab: (await activeTab.innerText()).trim(),
    text: await preview.locator("body").innerText(),
    sources: await sources.allInnerTexts(),
  };
  // Its source link opens the file at the cited line.
  const link = sources.first().locator("a");
  const target = await link.innerText();
  await link.click();
  await activeTab.filter({ hasText: /\.(md|rst|txt)/ }).waitFor({ timeout: STEP_MS });
  await settledAt(/:(\d+)/.exec(target)?.[1]);
  results.answer_link = { target, tab: (await activeTab.innerText()).trim(), position: await statusLine.innerText() };
  mark("answer");

  results.notifications = await notifications(page);

  // A server command that cannot be found: one message that names the setting to set.
  writeFileSync(
    join(workspace, ".vscode", "settings.json"),
    JSON.stringify({ "lore.server.command": join(workspace, "no-such-venv", "bin", "lore") }),
  );
  const missing = page.locator(".notification-list-item", { hasText: "lore.server.command" });
  await missing.first().waitFor({ timeout: STEP_MS });
  results.missing_server = (await notifications(page)).filter((n) => n.message.includes("lore.server.command"));
  mark("missing_server");
}

installExtension();
mark("installed");
const server = startCodeServer();
let browser;
try {
  const url = await server.listening;
  mark("listening");
  browser = await chromium.launch({ executablePath: env("LORE_CHROMIUM"), args: ["--no-sandbox", "--disable-dev-shm-usage"], headless: true });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await run(page, url);
  } catch (error) {
    results.error = String(error?.stack ?? error);
    await page.screenshot({ path: join(home, "failure.png") }).catch(() => {});
    results.screenshot = join(home, "failure.png");
  }
} catch (error) {
  results.error = String(error?.stack ?? error);
} finally {
  results.code_server_log = server.log().slice(-4000);
  writeFileSync(env("LORE_TEST_RESULTS"), JSON.stringify(results, null, 2));
  await browser?.close();
  // code-server, its extension host and the language server share one process group.
  try {
    process.kill(-server.child.pid, "SIGTERM");
  } catch {
    // already gone
  }
}
