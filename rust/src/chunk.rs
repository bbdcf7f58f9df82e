//! Chunking: documents cut along their structure into pieces of bounded size.
//!
//! Each format is first read into *blocks* (line ranges: headings, paragraphs, lists, code
//! blocks), then one packer turns blocks into chunks: a heading starts a new section, a
//! section is filled block by block up to `max_chars`, a code block is never split, and a
//! long section continues in a new chunk that repeats about `overlap_chars` of the previous.
//! A paragraph longer than `max_chars` is cut between lines, and a line that is still too long
//! at its last sentence end, else its last space, that fits.

use crate::text::{slugify, LineIndex};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Rst,
    Text,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Rst => "rst",
            Format::Text => "text",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "markdown" => Some(Format::Markdown),
            "rst" => Some(Format::Rst),
            "text" => Some(Format::Text),
            _ => None,
        }
    }
}

/// `markdown` for .md/.markdown/.mdx, `rst` for .rst, else `text`.
pub fn detect_format(path: &str) -> Format {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "md" | "markdown" | "mdx" | "mkd" => Format::Markdown,
        "rst" | "rest" => Format::Rst,
        _ => Format::Text,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub ordinal: usize,
    pub heading_path: Vec<String>,
    /// 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
    pub text: String,
    pub kind: &'static str,
}

/// A structural unit of a document: a line range, a heading or a code block.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub start_line: usize,
    pub end_line: usize,
    pub code: bool,
    pub heading: Option<(usize, String)>,
}

/// A term found while reading blocks, before its section is known.
#[derive(Clone, Debug)]
pub(crate) struct RawTerm {
    pub text: String,
    pub kind: &'static str,
    pub line: usize,
}

/// The parse of one document: its blocks and the terms seen on the way.
pub(crate) struct Parsed {
    pub blocks: Vec<Block>,
    pub terms: Vec<RawTerm>,
    pub front_matter_title: Option<String>,
}

pub(crate) fn parse(text: &str, format: Format) -> Parsed {
    match format {
        Format::Markdown => parse_markdown(text),
        Format::Rst => parse_rst(text),
        Format::Text => Parsed { blocks: paragraphs(text, 1), terms: vec![], front_matter_title: None },
    }
}

/// Split `text` into chunks of about `max_chars` at most (a code block is never split).
pub fn chunk_text(text: &str, format: Format, max_chars: usize, overlap_chars: usize) -> Vec<Chunk> {
    let parsed = parse(text, format);
    pack(text, &parsed.blocks, max_chars.max(1), overlap_chars)
}

// ---- Markdown ---------------------------------------------------------------------------

/// Blank out a leading YAML front-matter block (keeping offsets) and return its `title:`.
pub(crate) fn strip_front_matter(text: &str) -> (String, Option<String>) {
    if !(text.starts_with("---\n") || text.starts_with("---\r\n")) {
        return (text.to_string(), None);
    }
    let mut offset = 0;
    let mut title = None;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        offset += line.len();
        let trimmed = line.trim();
        if i > 0 && (trimmed == "---" || trimmed == "...") {
            let blanked: String = text[..offset].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
            return (blanked + &text[offset..], title);
        }
        if let Some(rest) = trimmed.strip_prefix("title:") {
            let value = rest.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
            if !value.is_empty() {
                title = Some(value);
            }
        }
    }
    (text.to_string(), None)
}

fn parse_markdown(original: &str) -> Parsed {
    let (text, front_matter_title) = strip_front_matter(original);
    let lines = LineIndex::new(&text);
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_FOOTNOTES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_DEFINITION_LIST);
    options.insert(Options::ENABLE_TASKLISTS);
    // `## Title {#id}`: the heading is "Title"; the links module records the id.
    options.insert(Options::ENABLE_HEADING_ATTRIBUTES);

    let mut blocks = Vec::new();
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut block_start = 0usize;
    let mut block_is_code = false;
    let mut heading_level: Option<usize> = None;
    let mut heading_text = String::new();
    let mut heading_codes: Vec<String> = Vec::new();
    let mut strong: Option<(String, usize)> = None;
    let mut deflist_title: Option<(String, usize)> = None;

    let end_line_of = |end: usize| -> usize {
        // A block's range usually ends just past its newline; its last line is the one before.
        let end = if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') { end - 1 } else { end };
        lines.line_of(end.saturating_sub(1))
    };

    for (event, range) in Parser::new_ext(&text, options).into_offset_iter() {
        match &event {
            Event::Start(tag) => {
                if depth == 0 {
                    block_start = range.start;
                    block_is_code = matches!(tag, Tag::CodeBlock(_));
                    heading_level = match tag {
                        Tag::Heading { level, .. } => Some(*level as usize),
                        _ => None,
                    };
                    heading_text.clear();
                    heading_codes.clear();
                }
                match tag {
                    Tag::Strong => strong = Some((String::new(), lines.line_of(range.start))),
                    Tag::DefinitionListTitle => {
                        deflist_title = Some((String::new(), lines.line_of(range.start)))
                    }
                    _ => {}
                }
                depth += 1;
            }
            Event::End(tag) => {
                depth = depth.saturating_sub(1);
                match tag {
                    TagEnd::Strong => {
                        if let Some((t, line)) = strong.take() {
                            terms.push(RawTerm { text: t, kind: "bold", line });
                        }
                    }
                    TagEnd::DefinitionListTitle => {
                        if let Some((t, line)) = deflist_title.take() {
                            terms.push(RawTerm { text: t, kind: "definition", line });
                        }
                    }
                    _ => {}
                }
                if depth == 0 {
                    let start_line = lines.line_of(block_start);
                    let end_line = end_line_of(range.end).max(start_line);
                    let heading = heading_level.map(|level| (level, heading_text.trim().to_string()));
                    if let Some((_, h)) = &heading {
                        for code in heading_codes.drain(..) {
                            terms.push(RawTerm { text: code, kind: "identifier", line: start_line });
                        }
                        for word in h.split_whitespace() {
                            let word = word.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
                            if looks_like_identifier(word) {
                                terms.push(RawTerm { text: word.to_string(), kind: "identifier", line: start_line });
                            }
                        }
                    }
                    blocks.push(Block { start_line, end_line, code: block_is_code, heading });
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if heading_level.is_some() && depth > 0 {
                    heading_text.push_str(t);
                    if matches!(event, Event::Code(_)) {
                        heading_codes.push(t.to_string());
                    }
                }
                if let Some((s, _)) = strong.as_mut() {
                    s.push_str(t);
                }
                if let Some((s, _)) = deflist_title.as_mut() {
                    s.push_str(t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                for s in [strong.as_mut().map(|x| &mut x.0), deflist_title.as_mut().map(|x| &mut x.0)]
                    .into_iter()
                    .flatten()
                {
                    s.push(' ');
                }
            }
            Event::Rule | Event::Html(_) if depth == 0 => {
                let start_line = lines.line_of(range.start);
                blocks.push(Block { start_line, end_line: end_line_of(range.end).max(start_line), code: false, heading: None });
            }
            _ => {}
        }
    }
    // Headings become terms too, with their own kind.
    for block in &blocks {
        if let Some((_, h)) = &block.heading {
            terms.push(RawTerm { text: h.clone(), kind: "heading", line: block.start_line });
        }
    }
    Parsed { blocks, terms, front_matter_title }
}

/// CamelCase, snake_case or dotted.name: worth keeping as vocabulary.
pub(crate) fn looks_like_identifier(word: &str) -> bool {
    if word.len() < 3 || !word.chars().next().is_some_and(|c| c.is_alphabetic()) {
        return false;
    }
    let chars: Vec<char> = word.chars().collect();
    let camel = chars.windows(2).any(|w| w[0].is_lowercase() && w[1].is_uppercase());
    let snake = word.contains('_') && word.chars().all(|c| c.is_alphanumeric() || c == '_');
    let dotted = word.contains('.')
        && !word.ends_with('.')
        && word.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '_');
    camel || snake || dotted
}

// ---- reStructuredText and plain text -------------------------------------------------------

const RST_ADORNMENT: &str = "=-`:'\"~^_*+#<>.";

fn adornment_char(line: &str) -> Option<char> {
    let line = line.trim_end();
    let first = line.chars().next()?;
    if line.chars().count() >= 2 && RST_ADORNMENT.contains(first) && line.chars().all(|c| c == first) {
        Some(first)
    } else {
        None
    }
}

fn parse_rst(text: &str) -> Parsed {
    let lines: Vec<&str> = text.lines().collect();
    let mut levels: Vec<(char, bool)> = Vec::new();
    let mut blocks = Vec::new();
    let mut terms = Vec::new();
    let mut i = 0;
    let mut para_start: Option<usize> = None;
    let mut literal_next = false;
    let mut in_literal: Option<usize> = None;
    let flush = |blocks: &mut Vec<Block>, start: Option<usize>, end: usize, code: bool| {
        if let Some(s) = start {
            blocks.push(Block { start_line: s + 1, end_line: end + 1, code, heading: None });
        }
    };
    while i < lines.len() {
        let line = lines[i];
        // A heading: text with an underline (and maybe an overline) of one punctuation char.
        let title_here = !line.trim().is_empty() && !line.starts_with(char::is_whitespace) && adornment_char(line).is_none();
        if title_here && in_literal.is_none() && i + 1 < lines.len() {
            if let Some(c) = adornment_char(lines[i + 1]) {
                let wide_enough = lines[i + 1].trim_end().chars().count() >= line.trim().chars().count().min(4);
                if wide_enough {
                    let over = i > 0 && adornment_char(lines[i - 1]) == Some(c) && para_start == Some(i - 1);
                    let start = if over { i - 1 } else { i };
                    if over {
                        para_start = None;
                    } else if let Some(s) = para_start.take() {
                        flush(&mut blocks, Some(s), i - 1, false);
                    }
                    let key = (c, over);
                    let level = match levels.iter().position(|k| *k == key) {
                        Some(p) => p + 1,
                        None => {
                            levels.push(key);
                            levels.len()
                        }
                    };
                    let title = line.trim().to_string();
                    blocks.push(Block { start_line: start + 1, end_line: i + 2, code: false, heading: Some((level, title.clone())) });
                    terms.push(RawTerm { text: title.clone(), kind: "heading", line: start + 1 });
                    for word in title.split_whitespace() {
                        let word = word.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
                        if looks_like_identifier(word) {
                            terms.push(RawTerm { text: word.to_string(), kind: "identifier", line: start + 1 });
                        }
                    }
                    i += 2;
                    continue;
                }
            }
        }
        let blank = line.trim().is_empty();
        if let Some(s) = in_literal {
            // A literal block runs while lines are indented or blank.
            if blank || line.starts_with(char::is_whitespace) {
                i += 1;
                continue;
            }
            let mut end = i - 1;
            while end > s && lines[end].trim().is_empty() {
                end -= 1;
            }
            flush(&mut blocks, Some(s), end, true);
            in_literal = None;
        }
        if blank {
            if let Some(s) = para_start.take() {
                flush(&mut blocks, Some(s), i - 1, false);
                literal_next = lines[i - 1].trim_end().ends_with("::");
            }
        } else if literal_next && line.starts_with(char::is_whitespace) {
            in_literal = Some(i);
            literal_next = false;
        } else {
            literal_next = false;
            if para_start.is_none() {
                para_start = Some(i);
                // Definition list: a term line, then an indented definition.
                let next_indented = lines.get(i + 1).is_some_and(|n| n.starts_with(char::is_whitespace) && !n.trim().is_empty());
                let prev_blank = i == 0 || lines[i - 1].trim().is_empty();
                if next_indented && prev_blank && !line.starts_with(char::is_whitespace) && line.trim().chars().count() <= 60 && !line.trim_end().ends_with(['.', ':']) {
                    terms.push(RawTerm { text: line.trim().to_string(), kind: "definition", line: i + 1 });
                }
            }
            let mut rest = line;
            while let Some(start) = rest.find("**") {
                let after = &rest[start + 2..];
                match after.find("**") {
                    Some(end) if end > 0 => {
                        terms.push(RawTerm { text: after[..end].to_string(), kind: "bold", line: i + 1 });
                        rest = &after[end + 2..];
                    }
                    _ => break,
                }
            }
        }
        i += 1;
    }
    if let Some(s) = in_literal {
        let mut end = lines.len() - 1;
        while end > s && lines[end].trim().is_empty() {
            end -= 1;
        }
        flush(&mut blocks, Some(s), end, true);
    } else if let Some(s) = para_start {
        flush(&mut blocks, Some(s), lines.len() - 1, false);
    }
    blocks.sort_by_key(|b| b.start_line);
    Parsed { blocks, terms, front_matter_title: None }
}

/// Paragraphs separated by blank lines, numbered from `first_line`.
fn paragraphs(text: &str, first_line: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut start: Option<usize> = None;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            if let Some(s) = start.take() {
                blocks.push(Block { start_line: s + first_line, end_line: i - 1 + first_line, code: false, heading: None });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        blocks.push(Block { start_line: s + first_line, end_line: lines.len() - 1 + first_line, code: false, heading: None });
    }
    blocks
}

// ---- packing ------------------------------------------------------------------------------

/// The heading path in force at each heading block, as `(start_line, path)`, in order.
pub(crate) fn section_paths(blocks: &[Block]) -> Vec<(usize, Vec<String>)> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    for block in blocks {
        if let Some((level, title)) = &block.heading {
            while stack.last().is_some_and(|(l, _)| *l >= *level) {
                stack.pop();
            }
            stack.push((*level, title.clone()));
            out.push((block.start_line, stack.iter().map(|(_, t)| t.clone()).collect()));
        }
    }
    out
}

/// The heading path in force at `line`.
pub(crate) fn path_at(paths: &[(usize, Vec<String>)], line: usize) -> Vec<String> {
    match paths.partition_point(|(start, _)| *start <= line) {
        0 => Vec::new(),
        n => paths[n - 1].1.clone(),
    }
}

fn block_size(lines: &[&str], b: &Block) -> usize {
    (b.start_line..=b.end_line).map(|l| lines.get(l - 1).map_or(0, |s| s.len() + 1)).sum()
}

/// Long non-code blocks cut into line groups of at most `max_chars`.
fn split_long(lines: &[&str], blocks: &[Block], max_chars: usize) -> Vec<Block> {
    let mut out = Vec::new();
    for b in blocks {
        if b.code || b.heading.is_some() || block_size(lines, b) <= max_chars {
            out.push(b.clone());
            continue;
        }
        let mut start = b.start_line;
        let mut size = 0;
        for line in b.start_line..=b.end_line {
            let len = lines.get(line - 1).map_or(0, |s| s.len() + 1);
            if size > 0 && size + len > max_chars {
                out.push(Block { start_line: start, end_line: line - 1, code: false, heading: None });
                start = line;
                size = 0;
            }
            size += len;
        }
        out.push(Block { start_line: start, end_line: b.end_line, code: false, heading: None });
    }
    out
}

pub(crate) fn pack(text: &str, blocks: &[Block], max_chars: usize, overlap_chars: usize) -> Vec<Chunk> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let blocks = split_long(&lines, blocks, max_chars);
    let paths = section_paths(&blocks);
    let mut chunks: Vec<Chunk> = Vec::new();

    // Sections: a heading block and the blocks up to the next heading.
    let mut sections: Vec<&[Block]> = Vec::new();
    let mut start = 0;
    for (i, b) in blocks.iter().enumerate() {
        if b.heading.is_some() && i > start {
            sections.push(&blocks[start..i]);
            start = i;
        }
    }
    if start < blocks.len() {
        sections.push(&blocks[start..]);
    }

    let mut carried_heading: Option<Block> = None;
    for section in sections {
        let path = path_at(&paths, section[0].start_line);
        // A heading with nothing under it rides along with the next section.
        if section.len() == 1 && section[0].heading.is_some() {
            if carried_heading.is_none() {
                carried_heading = Some(section[0].clone());
            }
            continue;
        }
        let mut members: Vec<Block> = carried_heading.take().into_iter().collect();
        members.extend(section.iter().cloned());

        let mut current: Vec<Block> = Vec::new();
        let mut size = 0;
        for block in members {
            let len = block_size(&lines, &block);
            if !current.is_empty() && size + len > max_chars {
                emit(&lines, &current, &path, (max_chars, overlap_chars), &mut chunks);
                // Start the next chunk with the tail of this one, up to `overlap_chars`.
                let mut tail: Vec<Block> = Vec::new();
                let mut tail_size = 0;
                for b in current.iter().rev().take(current.len() - 1) {
                    let l = block_size(&lines, b);
                    if b.code || b.heading.is_some() || tail_size + l > overlap_chars {
                        break;
                    }
                    tail_size += l;
                    tail.insert(0, b.clone());
                }
                current = tail;
                size = tail_size;
            }
            size += len;
            current.push(block);
        }
        if !current.is_empty() {
            emit(&lines, &current, &path, (max_chars, overlap_chars), &mut chunks);
        }
    }
    if let Some(h) = carried_heading {
        let path = path_at(&paths, h.start_line);
        emit(&lines, &[h], &path, (max_chars, overlap_chars), &mut chunks);
    }
    chunks
}

/// Add the chunk made of `blocks`. Text longer than `max_chars` (a line too long to cut
/// between lines) is cut into pieces at line, sentence or word bounds, unless it is code.
fn emit(lines: &[&str], blocks: &[Block], path: &[String], limits: (usize, usize), chunks: &mut Vec<Chunk>) {
    let (max_chars, overlap_chars) = limits;
    let start_line = blocks.first().map_or(1, |b| b.start_line);
    let end_line = blocks.iter().map(|b| b.end_line).max().unwrap_or(start_line);
    let text = lines[start_line - 1..end_line.min(lines.len())].join("\n");
    if text.trim().is_empty() {
        return;
    }
    let kind = if blocks.iter().any(|b| b.heading.is_some()) {
        "section"
    } else if blocks.iter().all(|b| b.code) {
        "code"
    } else {
        "paragraph"
    };
    if text.len() <= max_chars || blocks.iter().any(|b| b.code) {
        chunks.push(Chunk { ordinal: chunks.len(), heading_path: path.to_vec(), start_line, end_line, text, kind });
        return;
    }
    let breaks: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
    let line_of = |offset: usize| start_line + breaks.partition_point(|&b| b < offset);
    for (from, to) in pieces(&text, max_chars, overlap_chars) {
        let piece = text[from..to].trim();
        if piece.is_empty() {
            continue;
        }
        let first = from + (text[from..to].len() - text[from..to].trim_start().len());
        chunks.push(Chunk {
            ordinal: chunks.len(),
            heading_path: path.to_vec(),
            start_line: line_of(first),
            end_line: line_of(first + piece.len()),
            text: piece.to_string(),
            kind,
        });
    }
}

/// Byte ranges of `text`, each at most `max` bytes, covering it in order; each after the first
/// starts up to `overlap` bytes (at a word start) before the previous one ended.
fn pieces(text: &str, max: usize, overlap: usize) -> Vec<(usize, usize)> {
    // A large overlap could stall progress: keep it under a quarter of a piece.
    let overlap = overlap.min(max / 4);
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        if text.len() - start <= max {
            out.push((start, text.len()));
            break;
        }
        let end = cut_point(text, start, max);
        out.push((start, end));
        let back = ceil_boundary(text, end.saturating_sub(overlap).max(start + 1));
        let next = text[back..end].find(char::is_whitespace).map_or(end, |i| back + i + 1);
        start = ceil_boundary(text, next.min(end).max(start + 1));
    }
    out
}

/// The end of a piece starting at `start`: within `max` bytes, the last line break, else the
/// last sentence end, else the last space in the window's second half; else a hard cut.
fn cut_point(text: &str, start: usize, max: usize) -> usize {
    let limit = floor_boundary(text, start + max);
    let low = ceil_boundary(text, start + max / 2).min(limit);
    let window = &text[low..limit];
    if let Some(i) = window.rfind('\n') {
        return low + i + 1;
    }
    let mut after: Option<char> = text[limit..].chars().next();
    for (i, c) in window.char_indices().rev() {
        let ends_sentence = match c {
            '.' | '!' | '?' => after.is_some_and(char::is_whitespace),
            '。' | '！' | '？' => true,
            _ => false,
        };
        if ends_sentence {
            return low + i + c.len_utf8();
        }
        after = Some(c);
    }
    if let Some(i) = window.rfind(char::is_whitespace) {
        return low + i + 1;
    }
    if limit > start {
        limit
    } else {
        ceil_boundary(text, start + 1)
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The document's title: front matter `title:`, the first level-1 heading, the first heading,
/// for plain text a short first line, else `fallback`.
pub fn title_of(text: &str, format: Format, fallback: &str) -> String {
    let parsed = parse(text, format);
    title_from(text, format, &parsed, fallback)
}

pub(crate) fn title_from(text: &str, format: Format, parsed: &Parsed, fallback: &str) -> String {
    if let Some(t) = &parsed.front_matter_title {
        return t.clone();
    }
    let headings: Vec<&(usize, String)> = parsed.blocks.iter().filter_map(|b| b.heading.as_ref()).collect();
    if let Some((_, t)) = headings.iter().find(|(l, t)| *l == 1 && !t.is_empty()) {
        return t.clone();
    }
    if let Some((_, t)) = headings.iter().find(|(_, t)| !t.is_empty()) {
        return t.clone();
    }
    if format == Format::Text {
        let mut it = text.lines().skip_while(|l| l.trim().is_empty());
        if let Some(first) = it.next() {
            let first = first.trim();
            let next_blank = it.next().is_none_or(|l| l.trim().is_empty());
            if next_blank && first.chars().count() <= 80 && !first.ends_with('.') {
                return first.to_string();
            }
        }
    }
    fallback.to_string()
}

/// The anchor of the heading that starts at `line`, if one does.
pub(crate) fn anchor_for(path: &[String]) -> String {
    path.last().map(|h| slugify(h)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "# Guide\n\nIntro text.\n\n## Request queue\n\nThe **request queue** orders work.\n\n```sh\nrun --this\n\nand this\n```\n\n### Deeper\n\nMore.\n";

    fn assert_lines_match(text: &str, chunks: &[Chunk]) {
        let lines: Vec<&str> = text.lines().collect();
        for c in chunks {
            let span = lines[c.start_line - 1..c.end_line].join("\n");
            assert_eq!(span, c.text, "chunk {} lines {}-{}", c.ordinal, c.start_line, c.end_line);
        }
    }

    #[test]
    fn markdown_sections_keep_heading_paths_and_lines() {
        let chunks = chunk_text(MD, Format::Markdown, 1200, 100);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].heading_path, vec!["Guide"]);
        assert_eq!((chunks[0].start_line, chunks[0].end_line), (1, 3));
        assert_eq!(chunks[1].heading_path, vec!["Guide", "Request queue"]);
        assert_eq!((chunks[1].start_line, chunks[1].end_line), (5, 13));
        assert!(chunks[1].text.contains("and this\n```"));
        assert_eq!(chunks[2].heading_path, vec!["Guide", "Request queue", "Deeper"]);
        assert_lines_match(MD, &chunks);
    }

    #[test]
    fn code_blocks_are_never_split() {
        let code: String = (0..80).map(|i| format!("line {i}\n")).collect();
        let text = format!("# T\n\nSome text.\n\n```\n{code}```\n\nAfter.\n");
        let chunks = chunk_text(&text, Format::Markdown, 200, 50);
        let with_code: Vec<_> = chunks.iter().filter(|c| c.text.contains("line 0")).collect();
        assert_eq!(with_code.len(), 1);
        assert!(with_code[0].text.contains("line 79"));
        assert_lines_match(&text, &chunks);
    }

    #[test]
    fn long_sections_split_with_overlap_and_bounded_size() {
        let paras: String = (0..30).map(|i| format!("Paragraph {i} says something useful about queues.\n\n")).collect();
        let text = format!("# Long\n\n{paras}");
        let chunks = chunk_text(&text, Format::Markdown, 300, 60);
        assert!(chunks.len() > 4);
        for c in &chunks {
            assert!(c.text.len() <= 300, "chunk of {} chars", c.text.len());
            assert_eq!(c.heading_path, vec!["Long"]);
        }
        // Overlap: each chunk after the first starts with the previous one's last paragraph.
        for pair in chunks.windows(2) {
            assert!(pair[1].start_line <= pair[0].end_line, "no overlap between {:?} and {:?}", pair[0].end_line, pair[1].start_line);
        }
        assert_lines_match(&text, &chunks);
    }

    #[test]
    fn a_huge_paragraph_is_cut_by_lines() {
        let text: String = (0..500).map(|i| format!("word{i} and more words on this line\n")).collect();
        let chunks = chunk_text(&text, Format::Text, 500, 0);
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|c| c.text.len() <= 500));
        assert_lines_match(&text, &chunks);
    }

    #[test]
    fn a_huge_single_line_is_cut_at_sentences_then_words() {
        let sentence = "The settlement window closes at four. ";
        let text = sentence.repeat(50_000); // 1.9 MB, one line, one paragraph
        let chunks = chunk_text(&text, Format::Text, 2400, 150);
        assert!(chunks.len() > 700, "{} chunks", chunks.len());
        for c in &chunks {
            assert!(c.text.len() <= 2400, "chunk of {} chars", c.text.len());
            assert!(c.text.ends_with("four."), "cut mid-sentence: {:?}", &c.text[c.text.len() - 20..]);
            assert_eq!((c.start_line, c.end_line), (1, 1));
        }
        let words: String = (0..3000).map(|i| format!("w{i} ")).collect();
        let chunks = chunk_text(&format!("# T\n\nFirst.\n\n{words}\n\nLast.\n"), Format::Markdown, 300, 40);
        assert!(chunks.iter().all(|c| c.text.len() <= 300));
        let joined: String = chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ");
        assert!((0..3000).all(|i| joined.contains(&format!("w{i} "))), "a word went missing");
        assert!(chunks.iter().all(|c| !c.text.starts_with(|ch: char| ch.is_ascii_digit())), "cut inside a word");
        let last_words = chunks.iter().find(|c| c.text.contains("w2999 ") || c.text.ends_with("w2999")).unwrap();
        assert_eq!((last_words.start_line, last_words.end_line), (5, 5));
        // No spaces at all, multi-byte characters: cut at character bounds.
        let dense = "é".repeat(5000);
        let chunks = chunk_text(&dense, Format::Text, 301, 0);
        assert!(chunks.iter().all(|c| c.text.len() <= 301 && !c.text.is_empty()));
        assert_eq!(chunks.iter().map(|c| c.text.len()).sum::<usize>(), dense.len());
    }

    #[test]
    fn heading_only_sections_join_the_next() {
        let text = "# Glossary\n\n## Term\n\nMeaning.\n";
        let chunks = chunk_text(text, Format::Markdown, 1200, 0);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].start_line, 1);
        assert_eq!(chunks[0].heading_path, vec!["Glossary", "Term"]);
    }

    #[test]
    fn front_matter_is_not_a_heading() {
        let text = "---\ntitle: \"Front\"\ntags: [a]\n---\n\nBody text.\n";
        let parsed = parse(text, Format::Markdown);
        assert!(parsed.blocks.iter().all(|b| b.heading.is_none()));
        assert_eq!(title_of(text, Format::Markdown, "x"), "Front");
    }

    const RST: &str = "=====\nTitle\n=====\n\nIntro.\n\nSection A\n---------\n\nText of A. See::\n\n    code here\n    more code\n\nTerm\n    Its definition.\n\nSub\n~~~\n\nDeep text with **bold term**.\n";

    #[test]
    fn rst_headings_levels_and_literal_blocks() {
        let chunks = chunk_text(RST, Format::Rst, 1200, 0);
        assert_eq!(chunks[0].heading_path, vec!["Title"]);
        assert_eq!(chunks[0].start_line, 1);
        let a = chunks.iter().find(|c| c.text.contains("Text of A")).unwrap();
        assert_eq!(a.heading_path, vec!["Title", "Section A"]);
        assert!(a.text.contains("more code"));
        let sub = chunks.iter().find(|c| c.text.contains("Deep text")).unwrap();
        assert_eq!(sub.heading_path, vec!["Title", "Section A", "Sub"]);
        assert_eq!(title_of(RST, Format::Rst, "x"), "Title");
        assert_lines_match(RST, &chunks);
    }

    #[test]
    fn text_title_and_paragraphs() {
        let text = "On-call notes\n\nFirst para\nline two.\n\nSecond para.\n";
        let chunks = chunk_text(text, Format::Text, 25, 0);
        assert_eq!(chunks.len(), 3);
        assert_eq!((chunks[1].start_line, chunks[1].end_line), (3, 4));
        assert_eq!(title_of(text, Format::Text, "notes"), "On-call notes");
        assert_eq!(title_of("A sentence.\n", Format::Text, "notes"), "notes");
    }

    #[test]
    fn detects_formats() {
        assert_eq!(detect_format("a/b.MD"), Format::Markdown);
        assert_eq!(detect_format("x.rst"), Format::Rst);
        assert_eq!(detect_format("x.txt"), Format::Text);
    }
}
