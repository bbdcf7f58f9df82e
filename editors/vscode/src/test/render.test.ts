import assert from "node:assert/strict";
import { test } from "node:test";
import { citationLink, renderAnswer } from "../render";

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
  assert.ok(markdown.includes(`1. [glossary/terms.md:9-13](${citationLink(answer.citations[0])}) — Glossary › Settlement window`));
  assert.match(markdown, /\*confidence 0\.93 · extractive\*$/);
  assert.equal(
    decodeURIComponent(citationLink(answer.citations[0]).split("?")[1]),
    JSON.stringify(["/kb/glossary/terms.md", 9]),
  );
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
