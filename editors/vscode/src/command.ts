/** How the extension starts `lore serve`. */

export interface ServerCommand {
  command: string;
  args: string[];
}

export interface CommandInputs {
  /** `lore.server.command`, empty when unset. */
  configured: string;
  /** `lore.server.args`. */
  extraArgs: string[];
  /** The interpreter picked in the Python extension, if any. */
  pythonPath?: string;
}

/**
 * The configured command wins; else the picked Python interpreter runs `-m lore serve`; else
 * `lore serve` from PATH.
 */
export function resolveServerCommand(inputs: CommandInputs): ServerCommand {
  const configured = inputs.configured.trim();
  if (configured) {
    const [command, ...rest] = splitArgs(configured);
    const args = rest.length > 0 || /(^|[\\/])lore(\.exe)?$/.test(command) ? rest : [];
    return { command, args: [...(args.length ? args : ["serve"]), ...inputs.extraArgs] };
  }
  if (inputs.pythonPath) {
    return { command: inputs.pythonPath, args: ["-m", "lore", "serve", ...inputs.extraArgs] };
  }
  return { command: "lore", args: ["serve", ...inputs.extraArgs] };
}

/** Split a command line on spaces, keeping quoted parts whole. */
export function splitArgs(line: string): string[] {
  const parts: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(line)) !== null) {
    parts.push(match[1] ?? match[2] ?? match[3]);
  }
  return parts;
}

/**
 * Where `command` runs from: itself when it names a path, else the first executable match on
 * `searchPath` (PATH). Undefined when the spawn would fail with ENOENT.
 */
export function locateCommand(
  command: string,
  searchPath: string,
  isExecutable: (path: string) => boolean,
  platform: string = process.platform,
): string | undefined {
  const windows = platform === "win32";
  const separator = windows ? ";" : ":";
  const suffixes = windows ? ["", ".exe", ".cmd", ".bat"] : [""];
  const candidates = /[\\/]/.test(command)
    ? suffixes.map((suffix) => command + suffix)
    : searchPath
        .split(separator)
        .filter((dir) => dir !== "")
        .flatMap((dir) => suffixes.map((suffix) => `${dir}${windows ? "\\" : "/"}${command}${suffix}`));
  return candidates.find(isExecutable);
}

/** What the user reads when the server command cannot be found, naming the setting to set. */
export function notFoundMessage(command: string): string {
  const example = process.platform === "win32" ? "C:\\venvs\\lore\\Scripts\\lore.exe" : "~/venvs/lore/bin/lore";
  return (
    `Lore cannot start its server: "${command}" was not found on the PATH that VS Code sees. ` +
    `Set "lore.server.command" to the full path of lore (for example ${example}), ` +
    `or pick the Python interpreter that has Lore installed.`
  );
}
