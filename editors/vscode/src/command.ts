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
