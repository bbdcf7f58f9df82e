//! Links inside the docs: what each page points at, and the anchors others can point at.
//!
//! Markdown links come from pulldown-cmark (inline, reference-style with their definitions
//! resolved, autolinks and `[[wiki-links]]`); reStructuredText's from its roles (`:ref:`,
//! `:doc:`) and hyperlink references. Anchors are GitHub-style heading slugs (numbered when a
//! heading repeats), explicit `{#id}` attributes, and reStructuredText labels (`.. _label:`).

use crate::chunk::{parse, strip_front_matter, Format};
use crate::text::{slugify, LineIndex};
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::HashMap;

/// One link in a document. Lines are 1-based; columns are 0-based UTF-16 offsets, as LSP counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub line: usize,
    pub col: usize,
    pub end_line: usize,
    pub end_col: usize,
    /// `inline`, `reference`, `wiki`, `autolink`, `ref` (a label anywhere) or `doc` (a page).
    pub kind: &'static str,
    /// The destination without its fragment, as written (for `wiki`, a page name).
    pub target: String,
    /// The fragment after `#`, or the label of a `ref`.
    pub anchor: String,
    /// The link's text.
    pub text: String,
}

/// A place inside a document that a link's fragment can name.
#[derive(Clone, Debug, PartialEq)]
pub struct Anchor {
    pub name: String,
    /// The heading's first line (1-based).
    pub line: usize,
    pub heading: String,
    /// `slug`, `id` (an explicit `{#id}`) or `label` (reStructuredText).
    pub kind: &'static str,
}

/// The links and anchors of `text`.
pub fn extract_links(text: &str, format: Format) -> (Vec<Link>, Vec<Anchor>) {
    match format {
        Format::Markdown => markdown(text),
        Format::Rst => rst(text),
        Format::Text => (vec![], vec![]),
    }
}

fn utf16_col(text: &str, lines: &LineIndex, offset: usize) -> (usize, usize) {
    let line = lines.line_of(offset);
    let start = lines.start_of(line);
    let col = text.get(start..offset).map_or(0, |s| s.encode_utf16().count());
    (line, col)
}

fn split_fragment(dest: &str) -> (String, String) {
    match dest.split_once('#') {
        Some((target, anchor)) => (target.to_string(), anchor.to_string()),
        None => (dest.to_string(), String::new()),
    }
}

/// Numbers repeated slugs as GitHub does: `setup`, `setup-1`, `setup-2`.
#[derive(Default)]
struct Slugs(HashMap<String, usize>);

impl Slugs {
    fn next(&mut self, heading: &str) -> String {
        let base = slugify(heading);
        let seen = self.0.entry(base.clone()).or_insert(0);
        let slug = if *seen == 0 { base } else { format!("{base}-{seen}") };
        *seen += 1;
        slug
    }
}

fn markdown(original: &str) -> (Vec<Link>, Vec<Anchor>) {
    // Front matter is blanked, not removed, so lines keep their numbers.
    let (text, _) = strip_front_matter(original);
    let lines = LineIndex::new(&text);
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_DEFINITION_LIST
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_WIKILINKS;
    let mut links = Vec::new();
    let mut anchors = Vec::new();
    let mut slugs = Slugs::default();
    let mut open_link: Option<Link> = None;
    let mut open_heading: Option<(usize, Option<String>, String)> = None;
    for (event, range) in Parser::new_ext(&text, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Link { link_type, dest_url, .. }) => {
                let kind = match link_type {
                    LinkType::Inline => "inline",
                    LinkType::WikiLink { .. } => "wiki",
                    LinkType::Autolink | LinkType::Email => "autolink",
                    _ => "reference",
                };
                let (line, col) = utf16_col(&text, &lines, range.start);
                let (end_line, end_col) = utf16_col(&text, &lines, range.end);
                let (target, anchor) = split_fragment(&dest_url);
                open_link = Some(Link { line, col, end_line, end_col, kind, target, anchor, text: String::new() });
            }
            Event::End(TagEnd::Link) => {
                if let Some(mut link) = open_link.take() {
                    link.text = link.text.split_whitespace().collect::<Vec<_>>().join(" ");
                    links.push(link);
                }
            }
            Event::Start(Tag::Heading { id, .. }) => {
                open_heading = Some((lines.line_of(range.start), id.map(|s| s.to_string()), String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((line, id, heading)) = open_heading.take() {
                    let heading = heading.trim().to_string();
                    let (name, kind) = match id {
                        Some(id) => (id, "id"),
                        None => (slugs.next(&heading), "slug"),
                    };
                    anchors.push(Anchor { name, line, heading, kind });
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(link) = open_link.as_mut() {
                    link.text.push_str(&t);
                }
                if let Some((_, _, heading)) = open_heading.as_mut() {
                    heading.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(link) = open_link.as_mut() {
                    link.text.push(' ');
                }
            }
            _ => {}
        }
    }
    (links, anchors)
}

/// docutils' section id: lower case, every run of other characters one hyphen.
fn docutils_id(text: &str) -> String {
    let mut id = String::new();
    for c in text.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_matches('-').to_string()
}

fn rst(text: &str) -> (Vec<Link>, Vec<Anchor>) {
    let parsed = parse(text, Format::Rst);
    let headings: HashMap<usize, String> =
        parsed.blocks.iter().filter_map(|b| b.heading.as_ref().map(|(_, h)| (b.start_line, h.clone()))).collect();
    let mut anchors = Vec::new();
    let mut links = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = line.trim();
        if let Some(label) = trimmed.strip_prefix(".. _").and_then(|rest| rest.strip_suffix(':')) {
            if !label.starts_with('`') || label.ends_with('`') {
                labels.push(label.trim_matches('`').to_lowercase());
                continue;
            }
        }
        if trimmed.is_empty() {
            continue;
        }
        if let Some(heading) = headings.get(&number) {
            for name in labels.drain(..) {
                anchors.push(Anchor { name, line: number, heading: heading.clone(), kind: "label" });
            }
            anchors.push(Anchor { name: docutils_id(heading), line: number, heading: heading.clone(), kind: "slug" });
        }
        labels.clear();
        rst_line_links(line, number, &mut links);
    }
    (links, anchors)
}

/// `:ref:` and `:doc:` roles and `` `text <target>`_ `` references on one line.
fn rst_line_links(line: &str, number: usize, links: &mut Vec<Link>) {
    let col = |offset: usize| line[..offset].encode_utf16().count();
    let mut from = 0;
    while let Some(found) = line[from..].find('`') {
        let open = from + found;
        let Some(close_rel) = line[open + 1..].find('`') else { break };
        let close = open + 1 + close_rel;
        let inner = &line[open + 1..close];
        let role_start = line[..open].rfind(|c: char| c.is_whitespace() || c == '(').map_or(0, |i| i + 1);
        let role = &line[role_start..open];
        // `Text <target>` or a bare target.
        let (label, target) = match (inner.rfind('<'), inner.ends_with('>')) {
            (Some(lt), true) => (inner[..lt].trim(), &inner[lt + 1..inner.len() - 1]),
            _ => (inner, inner),
        };
        let mut end = close + 1;
        let kind = match role {
            ":ref:" => Some("ref"),
            ":doc:" => Some("doc"),
            _ if line[end..].starts_with('_') && inner.ends_with('>') => {
                end += if line[end..].starts_with("__") { 2 } else { 1 };
                Some("inline")
            }
            _ => None,
        };
        if let Some(kind) = kind {
            let start = if role.starts_with(':') { role_start } else { open };
            let (target, anchor) = match kind {
                "ref" => (String::new(), target.to_lowercase()),
                "doc" => (target.to_string(), String::new()),
                _ => split_fragment(target),
            };
            links.push(Link {
                line: number,
                col: col(start),
                end_line: number,
                end_col: col(end),
                kind,
                target,
                anchor,
                text: label.to_string(),
            });
        }
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_links_of_every_form() {
        let md = "# Guide\n\nSee [the queue](queue.md#request-queue), [[Cache|the cache]], [old][o] and <https://x.io>.\n\n```\n[not](a-link.md)\n```\n\n[o]: old/page.md\n";
        let (links, _) = extract_links(md, Format::Markdown);
        let summary: Vec<_> = links.iter().map(|l| (l.kind, l.target.as_str(), l.anchor.as_str(), l.text.as_str())).collect();
        assert_eq!(
            summary,
            vec![
                ("inline", "queue.md", "request-queue", "the queue"),
                ("wiki", "Cache", "", "the cache"),
                ("reference", "old/page.md", "", "old"),
                ("autolink", "https://x.io", "", "https://x.io"),
            ]
        );
        let first = &links[0];
        assert_eq!((first.line, first.col, first.end_line, first.end_col), (3, 4, 3, 39));
    }

    #[test]
    fn columns_count_utf16() {
        let (links, _) = extract_links("é😀 [a](b.md)\n", Format::Markdown);
        assert_eq!((links[0].col, links[0].end_col), (4, 13));
    }

    #[test]
    fn markdown_anchors_number_repeats_and_take_explicit_ids() {
        let md = "# Setup\n\n## Setup\n\n## Custom {#my-id}\n\n## `lore.reindex` command\n";
        let (_, anchors) = extract_links(md, Format::Markdown);
        let names: Vec<_> = anchors.iter().map(|a| (a.name.as_str(), a.line, a.kind)).collect();
        assert_eq!(
            names,
            vec![("setup", 1, "slug"), ("setup-1", 3, "slug"), ("my-id", 5, "id"), ("lorereindex-command", 7, "slug")]
        );
        assert_eq!(anchors[2].heading, "Custom");
    }

    #[test]
    fn rst_labels_roles_and_references() {
        let rst = ".. _ledger-choice:\n\nLedger database\n===============\n\nSee :ref:`the choice <Ledger-Choice>`, :doc:`../runbooks/outage` and `docs <https://x.io/a#b>`_.\n";
        let (links, anchors) = extract_links(rst, Format::Rst);
        let names: Vec<_> = anchors.iter().map(|a| (a.name.as_str(), a.line, a.kind)).collect();
        assert_eq!(names, vec![("ledger-choice", 3, "label"), ("ledger-database", 3, "slug")]);
        let summary: Vec<_> = links.iter().map(|l| (l.kind, l.target.as_str(), l.anchor.as_str(), l.text.as_str())).collect();
        assert_eq!(
            summary,
            vec![
                ("ref", "", "ledger-choice", "the choice"),
                ("doc", "../runbooks/outage", "", "../runbooks/outage"),
                ("inline", "https://x.io/a", "b", "docs"),
            ]
        );
        assert_eq!((links[0].line, links[0].col), (6, 4));
    }
}
