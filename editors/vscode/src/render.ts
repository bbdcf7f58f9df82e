/** Answers from `lore/ask`, rendered as Markdown whose citations open the file at the line. */

export interface Citation {
  n?: number;
  path: string;
  abs_path?: string;
  title: string;
  heading: string;
  start_line: number;
  end_line: number;
  score: number;
}

export interface AskResult {
  answer: string;
  citations: Citation[];
  confidence: number;
  evaluation: Record<string, unknown>;
  provider: string;
  degraded: boolean;
  degraded_reason?: string;
}

/** A `command:` link that runs `lore.openCitation` with the file and line. */
export function citationLink(citation: Citation): string {
  const args = encodeURIComponent(JSON.stringify([citation.abs_path ?? citation.path, citation.start_line]));
  return `command:lore.openCitation?${args}`;
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]<>])/g, "\\$1");
}

export function renderAnswer(question: string, result: AskResult): string {
  const lines = [`### ${escapeMarkdown(question)}`, "", result.answer, ""];
  if (result.citations.length > 0) {
    lines.push("**Sources**", "");
    // A bullet list with the number as text: an ordered list would renumber from its first
    // item, so a list of [3] and [1] would read 3, 4.
    result.citations.forEach((c, index) => {
      const n = c.n ?? index + 1;
      const where = `${c.path}:${c.start_line}-${c.end_line}`;
      lines.push(`- \\[${n}\\] [${escapeMarkdown(where)}](${citationLink(c)}) — ${escapeMarkdown(c.heading)}`);
    });
    lines.push("");
  }
  const declined = result.evaluation["declined"] === true;
  const state = declined ? "declined" : `confidence ${result.confidence.toFixed(2)}`;
  const degraded = result.degraded ? ` · degraded: ${result.degraded_reason ?? "LLM unavailable"}` : "";
  lines.push(`*${state} · ${result.provider}${degraded}*`);
  return lines.join("\n");
}

/**
 * The page of the answer view: the answer's Markdown rendered to HTML, under a policy that runs
 * no script and loads nothing but inline styles. Its links are `command:` links, which the view
 * runs (the Markdown preview runs none).
 */
export function answerPage(body: string, title: string): string {
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="UTF-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';">`,
    `<title>${escapeHtml(title)}</title>`,
    "<style>",
    "body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); line-height: 1.5; padding: 0 1.5em; }",
    "a { color: var(--vscode-textLink-foreground); }",
    "ul { padding-left: 1.2em; }",
    "</style>",
    "</head>",
    `<body>${body}</body>`,
    "</html>",
  ].join("\n");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
