//! Vocabulary: headings, bold and definition-list terms, and identifiers in headings.

use crate::chunk::{anchor_for, parse, path_at, section_paths, Format, RawTerm};
use std::collections::HashSet;

#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub text: String,
    pub kind: &'static str,
    pub line: usize,
    /// The section that defines the term; for a heading, the path down to and including it.
    pub heading_path: Vec<String>,
    /// GitHub-style slug of the defining heading.
    pub anchor: String,
}

/// Headings, bold text, definition-list terms, and identifiers that appear in headings.
pub fn extract_terms(text: &str, format: Format) -> Vec<Term> {
    let parsed = parse(text, format);
    terms_from(&parsed.blocks, parsed.terms)
}

pub(crate) fn terms_from(blocks: &[crate::chunk::Block], raw: Vec<RawTerm>) -> Vec<Term> {
    let paths = section_paths(blocks);
    let mut seen = HashSet::new();
    let mut terms = Vec::new();
    for t in raw {
        let text = t.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = text.trim_matches(|c: char| c == ':' || c == ',' || c == '.').to_string();
        let words = text.split_whitespace().count();
        let useful = match t.kind {
            "heading" => !text.is_empty(),
            _ => text.chars().count() >= 2 && text.chars().count() <= 64 && words <= 6,
        };
        if !useful || !text.chars().any(|c| c.is_alphabetic()) || !seen.insert((text.clone(), t.kind, t.line)) {
            continue;
        }
        let heading_path = path_at(&paths, t.line);
        let anchor = anchor_for(&heading_path);
        terms.push(Term { text, kind: t.kind, line: t.line, heading_path, anchor });
    }
    terms.sort_by_key(|t| t.line);
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_terms() {
        let md = "# Glossary\n\n## Request queue\n\nThe **request queue** orders work.\n\nIdempotency key\n: A token.\n\n## The `RetryBudget` and SettlementWindow\n\nText.\n";
        let terms = extract_terms(md, Format::Markdown);
        let find = |text: &str, kind: &str| terms.iter().find(|t| t.text == text && t.kind == kind).cloned();
        let h = find("Request queue", "heading").expect("heading");
        assert_eq!(h.heading_path, vec!["Glossary", "Request queue"]);
        assert_eq!(h.anchor, "request-queue");
        assert_eq!(h.line, 3);
        let b = find("request queue", "bold").expect("bold");
        assert_eq!(b.line, 5);
        assert_eq!(b.heading_path, vec!["Glossary", "Request queue"]);
        assert!(find("Idempotency key", "definition").is_some());
        assert!(find("RetryBudget", "identifier").is_some());
        assert!(find("SettlementWindow", "identifier").is_some());
    }

    #[test]
    fn rst_terms() {
        let rst = "Title\n=====\n\nTerm one\n    The meaning.\n\nSome **bold words** here.\n";
        let terms = extract_terms(rst, Format::Rst);
        assert!(terms.iter().any(|t| t.text == "Title" && t.kind == "heading"));
        assert!(terms.iter().any(|t| t.text == "Term one" && t.kind == "definition"));
        assert!(terms.iter().any(|t| t.text == "bold words" && t.kind == "bold"));
    }

    #[test]
    fn long_bold_runs_are_not_terms() {
        let md = "**This is a whole bold sentence that goes on and on for many words.**\n";
        assert!(extract_terms(md, Format::Markdown).is_empty());
    }
}
