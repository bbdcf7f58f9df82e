//! Walking a knowledge base's folder with ripgrep's walker (the `ignore` crate).
//!
//! The ignore files (`.gitignore`, `.ignore`, `.loreignore`) are read here, not by the crate:
//! the crate opens them with a plain `open`, which waits forever on a FIFO. `IgnoreRules`
//! reads each one only when it is a regular file (see `fsread`), and the walker asks it about
//! every entry through `filter_entry`.

use crate::fsread::open_regular;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::overrides::OverrideBuilder;
use ignore::{Match, WalkBuilder, WalkState};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// The ignore files read in every folder; later ones take precedence, as in ripgrep.
const STANDARD_IGNORE_FILES: [&str; 2] = [".gitignore", ".ignore"];
/// An ignore file larger than this is read up to here.
const MAX_IGNORE_FILE_BYTES: u64 = 1 << 20;

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

/// True when the first 8 KiB hold a NUL byte: what git and ripgrep call binary. A path that
/// is no longer a regular file is an error, never a wait.
pub fn looks_binary(path: &Path) -> Result<bool, String> {
    let mut buf = [0u8; 8192];
    let mut file = open_regular(path).map_err(|e| e.reason())?;
    let n = file.read(&mut buf).map_err(|e| format!("unreadable: {}", e.kind()))?;
    Ok(buf[..n].contains(&0))
}

/// Gitignore-style rules of each folder, read on first use, and the questions the walk asks.
struct IgnoreRules {
    root: PathBuf,
    file_names: Vec<String>,
    /// For each folder seen, the non-empty rules in force there, deepest folder first.
    chains: RwLock<HashMap<PathBuf, Arc<Vec<Arc<Gitignore>>>>>,
}

impl IgnoreRules {
    fn new(root: &Path, extra_files: &[String]) -> Self {
        let mut file_names: Vec<String> = STANDARD_IGNORE_FILES.iter().map(|s| s.to_string()).collect();
        file_names.extend(extra_files.iter().cloned());
        IgnoreRules { root: root.to_path_buf(), file_names, chains: RwLock::new(HashMap::new()) }
    }

    /// True when a rule ignores `path`: the deepest folder with a matching rule decides.
    fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        let Some(dir) = path.parent() else { return false };
        for rules in self.chain_of(dir).iter() {
            match rules.matched(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }

    fn chain_of(&self, dir: &Path) -> Arc<Vec<Arc<Gitignore>>> {
        if let Some(chain) = self.chains.read().get(dir) {
            return chain.clone();
        }
        let own = self.read_rules(dir);
        let mut chain = Vec::new();
        if !own.is_empty() {
            chain.push(Arc::new(own));
        }
        if dir != self.root {
            if let Some(parent) = dir.parent() {
                chain.extend(self.chain_of(parent).iter().cloned());
            }
        }
        self.chains.write().entry(dir.to_path_buf()).or_insert(Arc::new(chain)).clone()
    }

    /// The rules of the ignore files in `dir` that are regular files; a FIFO, a device or a
    /// symlink named `.gitignore` is passed over, and an invalid line is skipped.
    fn read_rules(&self, dir: &Path) -> Gitignore {
        let mut builder = GitignoreBuilder::new(dir);
        for name in &self.file_names {
            let path = dir.join(name);
            let Ok(file) = open_regular(&path) else { continue };
            let mut data = Vec::new();
            if file.take(MAX_IGNORE_FILE_BYTES).read_to_end(&mut data).is_err() {
                continue;
            }
            for line in String::from_utf8_lossy(&data).lines() {
                let _ = builder.add_line(Some(path.clone()), line);
            }
        }
        builder.build().unwrap_or_else(|_| Gitignore::empty())
    }
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
        .standard_filters(false)
        .hidden(true)
        .parents(false)
        .follow_links(false)
        .threads(options.threads);
    let rules = Arc::new(IgnoreRules::new(root_path, &options.ignore_files));
    builder.filter_entry(move |entry| {
        entry.depth() == 0 || !rules.is_ignored(entry.path(), entry.file_type().is_some_and(|t| t.is_dir()))
    });
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
                    Err(reason) => Err(skip(reason)),
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

    fn write_file(root: &std::path::Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    #[test]
    fn honours_ignores_sizes_and_binaries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, data: &[u8]| write_file(root, rel, data);
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

    #[test]
    fn ignore_files_that_are_fifos_are_passed_over() {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("docs")).unwrap();
        for rel in [".gitignore", "docs/.loreignore", "docs/.ignore"] {
            let c = CString::new(root.join(rel).as_os_str().as_bytes()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }
        fs::write(root.join("docs/a.md"), "# A").unwrap();
        // Walking would wait forever for a writer if a FIFO were opened to be read.
        let got = walk(root.to_str().unwrap(), &options()).unwrap();
        let files: Vec<&str> = got.files.iter().map(|f| f.rel_path.as_str()).collect();
        assert_eq!(files, vec!["docs/a.md"]);
    }

    #[test]
    fn deeper_ignore_files_override_and_negate() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, data: &[u8]| write_file(root, rel, data);
        write(".gitignore", b"*.txt\nbuild/\n");
        write("notes/.gitignore", b"!keep.txt\n");
        write("notes/keep.txt", b"k");
        write("notes/drop.txt", b"d");
        write("build/out.md", b"o");
        write("docs/build.md", b"b");
        write("docs/.ignore", b"secret.md\n");
        write("docs/secret.md", b"s");
        let got = walk(root.to_str().unwrap(), &options()).unwrap();
        let files: Vec<&str> = got.files.iter().map(|f| f.rel_path.as_str()).collect();
        assert_eq!(files, vec!["docs/build.md", "notes/keep.txt"]);
    }
}
