import assert from "node:assert/strict";
import { test } from "node:test";
import { answerPage, citationLink, renderAnswer } from "../render";

const answer = {
  answer: "The settlement window runs from 02:00 to 04:00 UTC. [1]",
  citations: [
    {
      n: 1,
      path: "glossary/terms.md",
      abs_path: "/kb/glossary/terms.md",
      title: "Glossary",
      heading: "Glossary › Settlement window",
      start_line: 9,
      end_line: 13,
      score: 0.9,
    },
  ],
  confidence: 0.93,
  evaluation: { declined: false },
  provider: "extractive",
  degraded: false,
};

test("answers render with numbered citations that open the file at the line", () => {
  const markdown = renderAnswer("What is the settlement window?", answer);
  assert.match(markdown, /^### What is the settlement window\?/);
  assert.match(markdown, /02:00 to 04:00 UTC\. \[1\]/);
  assert.ok(markdown.includes(`- \\[1\\] [glossary/terms.md:9-13](${citationLink(answer.citations[0])}) — Glossary › Settlement window`));
  assert.match(markdown, /\*confidence 0\.93 · extractive\*$/);
  assert.equal(
    decodeURIComponent(citationLink(answer.citations[0]).split("?")[1]),
    JSON.stringify(["/kb/glossary/terms.md", 9]),
  );
});

test("each source keeps the number the text cites, not a list's own count", () => {
  const second = { ...answer.citations[0], n: 3, path: "runbooks/deploy.md", start_line: 20, end_line: 24 };
  const markdown = renderAnswer("q", { ...answer, answer: "First [3], then [1].", citations: [second, answer.citations[0]] });
  const sources = markdown.split("**Sources**")[1].trim().split("\n").slice(0, 2);
  assert.match(sources[0], /^- \\\[3\\\] \[runbooks\/deploy\.md:20-24\]/);
  assert.match(sources[1], /^- \\\[1\\\] \[glossary\/terms\.md:9-13\]/);
  // No line may start an ordered list, which Markdown renumbers 1, 2, … from its first item.
  assert.doesNotMatch(markdown, /^\d+[.)] /m);
});

test("declined and degraded answers say so", () => {
  const markdown = renderAnswer("q", {
    ...answer,
    evaluation: { declined: true },
    degraded: true,
    degraded_reason: "every LLM endpoint failed",
  });
  assert.match(markdown, /\*declined · extractive · degraded: every LLM endpoint failed\*$/);
});

test("the answer page runs no script and keeps the rendered answer", () => {
  const page = answerPage("<h3>q</h3><p>The window. [1]</p>", "Lore: <q>");
  assert.match(page, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';"/);
  assert.ok(page.includes("<body><h3>q</h3><p>The window. [1]</p></body>"));
  assert.ok(page.includes("<title>Lore: &#60;q&#62;</title>"));
});
