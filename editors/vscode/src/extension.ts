import * as vscode from "vscode";
import { accessSync, constants } from "node:fs";
import { LanguageClient, LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";
import { locateCommand, notFoundMessage, resolveServerCommand } from "./command";
import { AskResult, answerPage, renderAnswer } from "./render";
import { Json, toServerSettings, userSection } from "./settings";

let client: LanguageClient | undefined;
let log: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
let statusTimer: NodeJS.Timeout | undefined;
let answerView: vscode.WebviewPanel | undefined;

interface SearchHit {
  path: string;
  abs_path: string;
  heading_path: string[];
  title: string;
  start_line: number;
  snippet: string;
}

async function pickedPython(): Promise<string | undefined> {
  const python = vscode.extensions.getExtension("ms-python.python");
  if (!python) {
    return undefined;
  }
  try {
    const api = python.isActive ? python.exports : await python.activate();
    const environments = api?.environments;
    const active = environments?.getActiveEnvironmentPath?.();
    if (!active) {
      return undefined;
    }
    const resolved = await environments.resolveEnvironment?.(active);
    return resolved?.executable?.uri?.fsPath ?? active.path;
  } catch (error) {
    log.warn(`could not ask the Python extension for its interpreter: ${error}`);
    return undefined;
  }
}

/** The settings the user set (not the contributed defaults), in the server's shape. */
function serverSettings(context: vscode.ExtensionContext, scope?: vscode.Uri): { [key: string]: Json } {
  const config = vscode.workspace.getConfiguration("lore", scope);
  const contributed: Record<string, unknown> = context.extension.packageJSON.contributes.configuration.properties;
  const keys = Object.keys(contributed).map((key) => key.slice("lore.".length));
  return toServerSettings(userSection(keys, (key) => config.inspect(key)));
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("lore");
  const server = resolveServerCommand({
    configured: config.get<string>("server.command", ""),
    extraArgs: config.get<string[]>("server.args", []),
    pythonPath: await pickedPython(),
  });
  client = undefined;
  if (!locateCommand(server.command, process.env.PATH ?? "", isExecutable)) {
    // Spawning would fail with a bare ENOENT, five times over; say what to set instead.
    reportStartFailure(notFoundMessage(server.command));
    return;
  }
  log.info(`starting ${server.command} ${server.args.join(" ")}`);
  // No transport: the client then talks stdio without appending `--stdio` to the arguments.
  const executable = { command: server.command, args: server.args };
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel: log,
    initializationOptions: serverSettings(context),
    synchronize: { configurationSection: "lore" },
    middleware: {
      // Indexing reports its progress: show the new count when a run ends, not at the next poll.
      handleWorkDoneProgress: (token, params, next) => {
        next(token, params);
        if (params.kind === "end") {
          void refreshStatus();
        }
      },
      workspace: {
        // The client would push the raw section, camelCase and all defaults. Send no settings
        // instead: the server then pulls them through `configuration` below.
        didChangeConfiguration: (_sections, next) => next(undefined),
        // The server asks for section `lore`; answer in its own (snake_case) shape.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return result.map((section, i) => {
            const item = params.items[i];
            if (item?.section !== "lore") {
              return section;
            }
            return serverSettings(context, item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined);
          });
        },
      },
    },
  };
  const started = new LanguageClient("lore", "Lore", serverOptions, clientOptions);
  try {
    await started.start();
  } catch (error) {
    reportStartFailure(
      `Lore cannot start its server (${server.command}): ${error}. Check "lore.server.command"; the Lore output shows more.`,
    );
    return;
  }
  client = started;
  context.subscriptions.push({ dispose: () => void started.stop() });
  refreshStatus();
}

/** Say why the server is not running, without waiting for the user to answer. */
function reportStartFailure(message: string): void {
  log.error(message);
  statusItem.text = "$(warning) Lore: not running";
  statusItem.tooltip = message;
  void vscode.window.showErrorMessage(message, "Open Settings").then((choice) => {
    if (choice === "Open Settings") {
      void vscode.commands.executeCommand("workbench.action.openSettings", "lore.server.command");
    }
  });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function refreshStatus(): Promise<void> {
  if (!client) {
    return; // the status bar already says why
  }
  try {
    const status = await client.sendRequest<{ index: { state: { state: string; done?: number; total?: number }; bases: { documents: number }[] } }>("lore/status", {});
    const state = status.index.state;
    const documents = status.index.bases.reduce((sum, b) => sum + b.documents, 0);
    statusItem.text =
      state.state === "indexing"
        ? `$(sync~spin) Lore: indexing ${state.done ?? 0}/${state.total ?? "?"}`
        : `$(book) Lore: ${documents} docs`;
    statusItem.tooltip = `Lore index: ${state.state}. Click for status.`;
  } catch (error) {
    statusItem.text = "$(warning) Lore";
    statusItem.tooltip = `${error}`;
  }
}

async function ask(): Promise<void> {
  if (!client) {
    return;
  }
  const editor = vscode.window.activeTextEditor;
  const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : "";
  const question = await vscode.window.showInputBox({ prompt: "Ask Lore", value: selected.trim() });
  if (!question) {
    return;
  }
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "Lore is answering…", cancellable: true },
    (_progress, token) => client!.sendRequest<AskResult>("lore/ask", { question }, token),
  );
  await showAnswer(question, result);
}

/** The answer in a view of its own, reused for the next question. */
async function showAnswer(question: string, result: AskResult): Promise<void> {
  const html = await vscode.commands.executeCommand<string>("markdown.api.render", renderAnswer(question, result));
  if (!answerView) {
    // Only the citation links may run a command.
    answerView = vscode.window.createWebviewPanel("lore.answer", "Lore", vscode.ViewColumn.Beside, {
      enableCommandUris: ["lore.openCitation"],
    });
    answerView.onDidDispose(() => (answerView = undefined));
  }
  answerView.title = `Lore: ${question}`;
  answerView.webview.html = answerPage(html, answerView.title);
  answerView.reveal();
}

async function search(): Promise<void> {
  if (!client) {
    return;
  }
  const query = await vscode.window.showInputBox({ prompt: "Search the knowledge base" });
  if (!query) {
    return;
  }
  const found = await client.sendRequest<{ results: SearchHit[] }>("lore/search", { query, k: 20 });
  const pick = await vscode.window.showQuickPick(
    found.results.map((hit) => ({
      label: hit.heading_path.at(-1) ?? hit.title,
      description: `${hit.path}:${hit.start_line}`,
      detail: hit.snippet,
      hit,
    })),
    { matchOnDescription: true, matchOnDetail: true, placeHolder: `${found.results.length} results` },
  );
  if (pick) {
    await openAt(pick.hit.abs_path, pick.hit.start_line);
  }
}

async function openAt(path: string, line: number): Promise<void> {
  const position = new vscode.Position(Math.max(0, line - 1), 0);
  await vscode.window.showTextDocument(vscode.Uri.file(path), { selection: new vscode.Range(position, position) });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  log = vscode.window.createOutputChannel("Lore", { log: true });
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  statusItem.command = "lore.showStatus";
  statusItem.text = "$(book) Lore";
  statusItem.show();
  context.subscriptions.push(log, statusItem);
  context.subscriptions.push(
    vscode.commands.registerCommand("lore.ask", ask),
    vscode.commands.registerCommand("lore.searchKnowledgeBase", search),
    vscode.commands.registerCommand("lore.openCitation", openAt),
    vscode.commands.registerCommand("lore.reindexKnowledgeBase", async () => {
      await client?.sendRequest("workspace/executeCommand", { command: "lore.server.reindex", arguments: [] });
      refreshStatus();
    }),
    vscode.commands.registerCommand("lore.showStatus", async () => {
      const status = await client?.sendRequest("lore/status", {});
      log.info(JSON.stringify(status, null, 2));
      log.show(true);
    }),
    vscode.commands.registerCommand("lore.restartServer", async () => {
      await client?.restart();
      refreshStatus();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("lore.server")) {
        log.info("server settings changed: restarting");
        await client?.stop();
        await startClient(context);
      }
    }),
  );
  statusTimer = setInterval(refreshStatus, 5000);
  context.subscriptions.push({ dispose: () => statusTimer && clearInterval(statusTimer) });
  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
