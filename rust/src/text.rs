//! Small text helpers shared by the chunker, the term extractor and the embedder.

/// Lower-cased word parts of an identifier or phrase.
///
/// `RequestQueue`, `request_queue` and `request-queue` all give `["request", "queue"]`;
/// `HTTPServer2` gives `["http", "server", "2"]`.
pub fn split_identifier(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for token in text.split(|c: char| !c.is_alphanumeric()) {
        if token.is_empty() {
            continue;
        }
        let chars: Vec<char> = token.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (prev, cur) = (chars[i - 1], chars[i]);
            let next_is_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
            let boundary = (prev.is_lowercase() && cur.is_uppercase())
                || (prev.is_uppercase() && cur.is_uppercase() && next_is_lower)
                || (prev.is_alphabetic() && cur.is_numeric())
                || (prev.is_numeric() && cur.is_alphabetic());
            if boundary {
                parts.push(chars[start..i].iter().collect::<String>().to_lowercase());
                start = i;
            }
        }
        parts.push(chars[start..].iter().collect::<String>().to_lowercase());
    }
    parts
}

/// The key under which terms are matched: the identifier parts joined by spaces.
pub fn normalize_term(text: &str) -> String {
    split_identifier(text).join(" ")
}

/// The GitHub-style anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
pub fn slugify(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c)
            } else if c == ' ' {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// Byte offsets where each line starts; `line_of` turns an offset into a 1-based line.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line that holds byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// The byte offset where 1-based `line` starts.
    pub fn start_of(&self, line: usize) -> usize {
        self.starts[line.clamp(1, self.starts.len()) - 1]
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_forms_agree() {
        let want = vec!["request", "queue"];
        assert_eq!(split_identifier("RequestQueue"), want);
        assert_eq!(split_identifier("request_queue"), want);
        assert_eq!(split_identifier("request-queue"), want);
        assert_eq!(split_identifier("Request queue"), want);
        assert_eq!(split_identifier("HTTPServer2"), vec!["http", "server", "2"]);
        assert_eq!(split_identifier("lore.reindex"), vec!["lore", "reindex"]);
        assert_eq!(normalize_term("  RetryBudget "), "retry budget");
    }

    #[test]
    fn slugs_match_github() {
        assert_eq!(slugify("Request queue"), "request-queue");
        assert_eq!(slugify("ADR 0007: Cache rendered responses"), "adr-0007-cache-rendered-responses");
        assert_eq!(slugify("`lore.reindex` command"), "lorereindex-command");
    }

    #[test]
    fn line_index() {
        let idx = LineIndex::new("a\nbc\n\nd");
        assert_eq!(idx.line_of(0), 1);
        assert_eq!(idx.line_of(2), 2);
        assert_eq!(idx.line_of(5), 3);
        assert_eq!(idx.line_of(6), 4);
        assert_eq!(idx.line_count(), 4);
    }
}
