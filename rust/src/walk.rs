//! Walking a knowledge base's folder with ripgrep's walker (the `ignore` crate).

use ignore::overrides::OverrideBuilder;
use ignore::{WalkBuilder, WalkState};
use parking_lot::Mutex;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

#[derive(Clone, Debug)]
pub struct WalkEntry {
    pub path: String,
    pub rel_path: String,
    pub size: u64,
    pub mtime_ns: i64,
}

#[derive(Clone, Debug)]
pub struct SkippedFile {
    pub path: String,
    pub rel_path: String,
    pub reason: String,
}

#[derive(Default, Debug)]
pub struct WalkResult {
    pub files: Vec<WalkEntry>,
    pub skipped: Vec<SkippedFile>,
}

pub struct WalkOptions {
    pub extensions: Vec<String>,
    pub max_file_bytes: u64,
    pub exclude: Vec<String>,
    pub ignore_files: Vec<String>,
    pub threads: usize,
}

#[derive(Debug)]
pub enum WalkError {
    NotADirectory(String),
    BadPattern(String),
}

/// True when the first 8 KiB hold a NUL byte: what git and ripgrep call binary.
pub fn looks_binary(path: &Path) -> std::io::Result<bool> {
    let mut buf = [0u8; 8192];
    let mut file = File::open(path)?;
    let n = file.read(&mut buf)?;
    Ok(buf[..n].contains(&0))
}

/// Walk `root`: honour `.gitignore` (inside a git repository or not), `.ignore` and the extra
/// ignore files; skip hidden files and folders; keep files with one of `extensions`; report
/// files over `max_file_bytes` and binary files as skipped.
pub fn walk(root: &str, options: &WalkOptions) -> Result<WalkResult, WalkError> {
    let root_path = Path::new(root);
    if !root_path.is_dir() {
        return Err(WalkError::NotADirectory(root.to_string()));
    }
    let mut builder = WalkBuilder::new(root_path);
    builder
        .hidden(true)
        .git_ignore(true)
        .git_exclude(false)
        .git_global(false)
        .require_git(false)
        .ignore(true)
        .parents(false)
        .follow_links(false)
        .threads(options.threads);
    for name in &options.ignore_files {
        builder.add_custom_ignore_filename(name);
    }
    if !options.exclude.is_empty() {
        let mut overrides = OverrideBuilder::new(root_path);
        for pattern in &options.exclude {
            // Overrides whitelist by default; a leading `!` makes a pattern exclude.
            overrides
                .add(&format!("!{}", pattern.trim_start_matches('!')))
                .map_err(|e| WalkError::BadPattern(format!("{pattern}: {e}")))?;
        }
        builder.overrides(overrides.build().map_err(|e| WalkError::BadPattern(e.to_string()))?);
    }
    let extensions: Vec<String> = options.extensions.iter().map(|e| e.trim_start_matches('.').to_ascii_lowercase()).collect();
    let result = Mutex::new(WalkResult::default());
    builder.build_parallel().run(|| {
        let result = &result;
        let extensions = &extensions;
        Box::new(move |entry| {
            let Ok(entry) = entry else { return WalkState::Continue };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            if !extensions.contains(&ext) {
                return WalkState::Continue;
            }
            let rel_path = path
                .strip_prefix(root_path)
                .unwrap_or(path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let path_str = path.to_string_lossy().into_owned();
            let skip = |reason: String| SkippedFile { path: path_str.clone(), rel_path: rel_path.clone(), reason };
            let outcome = match entry.metadata() {
                Err(e) => Err(skip(format!("unreadable: {e}"))),
                Ok(meta) if meta.len() > options.max_file_bytes => Err(skip("too-large".into())),
                Ok(meta) => match looks_binary(path) {
                    Err(e) => Err(skip(format!("unreadable: {}", e.kind()))),
                    Ok(true) => Err(skip("binary".into())),
                    Ok(false) => Ok(WalkEntry {
                        path: path_str.clone(),
                        rel_path: rel_path.clone(),
                        size: meta.len(),
                        mtime_ns: meta
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                            .map_or(0, |d| d.as_nanos() as i64),
                    }),
                },
            };
            let mut guard = result.lock();
            match outcome {
                Ok(file) => guard.files.push(file),
                Err(skipped) => guard.skipped.push(skipped),
            }
            WalkState::Continue
        })
    });
    let mut result = result.into_inner();
    result.files.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    result.skipped.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn options() -> WalkOptions {
        WalkOptions {
            extensions: vec!["md".into(), "txt".into()],
            max_file_bytes: 1000,
            exclude: vec!["drafts/".into()],
            ignore_files: vec![".loreignore".into()],
            threads: 2,
        }
    }

    #[test]
    fn honours_ignores_sizes_and_binaries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, data: &[u8]| {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, data).unwrap();
        };
        write("a.md", b"# A");
        write("sub/b.txt", b"b");
        write("code.rs", b"fn main() {}");
        write(".gitignore", b"ignored.md\n");
        write("ignored.md", b"x");
        write(".loreignore", b"private/\n");
        write("private/p.md", b"x");
        write(".hidden/h.md", b"x");
        write(".git/config.md", b"x");
        write("drafts/d.md", b"x");
        write("big.md", &vec![b'a'; 2000]);
        write("blob.md", b"abc\0def");
        let got = walk(root.to_str().unwrap(), &options()).unwrap();
        let files: Vec<&str> = got.files.iter().map(|f| f.rel_path.as_str()).collect();
        assert_eq!(files, vec!["a.md", "sub/b.txt"]);
        let skipped: Vec<(&str, &str)> = got.skipped.iter().map(|s| (s.rel_path.as_str(), s.reason.as_str())).collect();
        assert_eq!(skipped, vec![("big.md", "too-large"), ("blob.md", "binary")]);
        assert!(got.files[0].mtime_ns > 0);
        assert_eq!(got.files[0].size, 3);
    }

    #[test]
    fn missing_root_is_an_error() {
        assert!(matches!(walk("/no/such/dir", &options()), Err(WalkError::NotADirectory(_))));
    }
}
