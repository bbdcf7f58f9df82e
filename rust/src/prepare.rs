//! The indexer's unit of work: one file read, hashed, decoded, chunked, with terms and
//! embeddings, done for many files at once on the rayon pool.

use crate::chunk::{detect_format, pack, parse, title_from, Chunk, Format};
use crate::embed::HashedEmbedder;
use crate::fsread::{open_regular, open_under, read_capped, ReadError};
use crate::hash::hash_bytes;
use crate::links::{extract_links, Anchor, Link};
use crate::terms::{terms_from, Term};
use rayon::prelude::*;
use std::path::Path;
use std::time::UNIX_EPOCH;

#[derive(Clone, Debug)]
pub struct Document {
    pub path: String,
    pub rel_path: String,
    pub format: Format,
    pub content_hash: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub title: String,
    /// `latin-1` when the file was not valid UTF-8 and was decoded with that fallback.
    pub encoding: &'static str,
    pub chunks: Vec<Chunk>,
    pub terms: Vec<Term>,
    pub links: Vec<Link>,
    pub anchors: Vec<Anchor>,
    pub embeddings: Vec<Vec<u8>>,
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct PrepareOptions {
    pub max_chars: usize,
    pub overlap_chars: usize,
    pub dim: usize,
    /// Files larger than this when read (they may have grown since the walk) are not indexed.
    pub max_file_bytes: u64,
}

/// Decode UTF-8 (dropping a BOM), falling back to Latin-1, which maps every byte to a char.
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), "utf-8"),
        Err(_) => (bytes.iter().map(|&b| b as char).collect(), "latin-1"),
    }
}

/// The text a chunk is embedded from: its document's title and heading path give it context.
pub fn embedding_text(title: &str, chunk: &Chunk) -> String {
    let mut text = String::with_capacity(chunk.text.len() + 64);
    text.push_str(title);
    for h in &chunk.heading_path {
        if h != title {
            text.push_str(" / ");
            text.push_str(h);
        }
    }
    text.push('\n');
    text.push_str(&chunk.text);
    text
}

/// Read `path` (as `rel_path` under `root` when given, following no symlink below it) and
/// prepare it; a file that is no longer a regular file, or too large, gets an `error`.
pub fn prepare_document(path: &str, rel_path: &str, root: Option<&Path>, options: PrepareOptions, embedder: &HashedEmbedder) -> Document {
    let format = detect_format(path);
    let stem = rel_path.rsplit('/').next().unwrap_or(rel_path);
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s).to_string();
    let mut doc = Document {
        path: path.to_string(),
        rel_path: rel_path.to_string(),
        format,
        content_hash: String::new(),
        size: 0,
        mtime_ns: 0,
        title: stem.clone(),
        encoding: "utf-8",
        chunks: vec![],
        terms: vec![],
        links: vec![],
        anchors: vec![],
        embeddings: vec![],
        error: None,
    };
    let read = |file: std::fs::File| -> Result<(Vec<u8>, i64), ReadError> {
        let meta = file.metadata()?;
        let mtime_ns = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64);
        Ok((read_capped(file, options.max_file_bytes)?, mtime_ns))
    };
    let opened = match root {
        Some(root) => open_under(root, rel_path),
        None => open_regular(Path::new(path)),
    };
    let bytes = match opened.and_then(read) {
        Ok((bytes, mtime_ns)) => {
            doc.mtime_ns = mtime_ns;
            bytes
        }
        Err(e) => {
            doc.error = Some(e.reason());
            return doc;
        }
    };
    doc.size = bytes.len() as u64;
    doc.content_hash = hash_bytes(&bytes);
    let (text, encoding) = decode(&bytes);
    doc.encoding = encoding;
    let parsed = parse(&text, format);
    doc.title = title_from(&text, format, &parsed, &stem);
    doc.chunks = pack(&text, &parsed.blocks, options.max_chars.max(1), options.overlap_chars);
    doc.terms = terms_from(&parsed.blocks, parsed.terms);
    (doc.links, doc.anchors) = extract_links(&text, format);
    doc.embeddings = doc.chunks.iter().map(|c| embedder.embed_bytes(&embedding_text(&doc.title, c))).collect();
    doc
}

/// `prepare_document` for each `(path, rel_path)`, in parallel; the order follows `files`.
pub fn prepare_documents(files: &[(String, String)], root: Option<&Path>, options: PrepareOptions) -> Vec<Document> {
    let embedder = HashedEmbedder::new(options.dim);
    files.par_iter().map(|(path, rel)| prepare_document(path, rel, root, options, &embedder)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn prepares_files_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("guide.md");
        fs::write(&md, "# Guide\n\n## Request queue\n\nThe **request queue** orders work.\n").unwrap();
        let latin = dir.path().join("old.txt");
        fs::write(&latin, b"Caf\xe9 notes\n\nMore text.\n").unwrap();
        let files = vec![
            (md.to_string_lossy().into_owned(), "guide.md".to_string()),
            (latin.to_string_lossy().into_owned(), "old.txt".to_string()),
            (dir.path().join("gone.md").to_string_lossy().into_owned(), "gone.md".to_string()),
        ];
        let docs = prepare_documents(&files, None, PrepareOptions { max_chars: 1200, overlap_chars: 100, dim: 64, max_file_bytes: u64::MAX });
        assert_eq!(docs[0].title, "Guide");
        assert_eq!(docs[0].chunks.len(), 1);
        assert_eq!(docs[0].embeddings.len(), 1);
        assert_eq!(docs[0].embeddings[0].len(), 64 * 4);
        assert!(docs[0].terms.iter().any(|t| t.text == "Request queue"));
        assert_eq!(docs[1].encoding, "latin-1");
        assert_eq!(docs[1].title, "Café notes");
        assert!(docs[2].error.as_deref().unwrap().starts_with("unreadable"));
        assert!(docs[2].chunks.is_empty());
    }

    #[test]
    fn a_file_swapped_for_a_symlink_or_grown_is_not_read() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.md"), "outside text").unwrap();
        fs::create_dir(root.path().join("docs")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.md"), root.path().join("docs/a.md")).unwrap();
        fs::write(root.path().join("docs/b.md"), "grown ".repeat(100)).unwrap();
        let files: Vec<(String, String)> = ["docs/a.md", "docs/b.md"]
            .iter()
            .map(|rel| (root.path().join(rel).to_string_lossy().into_owned(), rel.to_string()))
            .collect();
        let options = PrepareOptions { max_chars: 1200, overlap_chars: 100, dim: 64, max_file_bytes: 500 };
        let docs = prepare_documents(&files, Some(root.path()), options);
        assert_eq!(docs[0].error.as_deref(), Some("unreadable: replaced by a symlink"));
        assert_eq!(docs[1].error.as_deref(), Some("too-large"));
        assert!(docs.iter().all(|d| d.chunks.is_empty()));
    }
}
