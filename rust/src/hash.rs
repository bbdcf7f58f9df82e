//! Content hashes: BLAKE3, truncated to 128 bits and written as hex.

use crate::fsread::open_regular;
use rayon::prelude::*;
use std::io::Read;
use std::path::Path;

/// BLAKE3 of `data` as 32 lowercase hex characters (the first 128 bits).
pub fn hash_bytes(data: &[u8]) -> String {
    let digest = blake3::hash(data);
    digest.to_hex()[..32].to_string()
}

/// `hash_bytes` of each file's content, in parallel; `None` where the file cannot be read or
/// is no longer a regular file (a symlink, a FIFO: see `fsread`).
pub fn hash_files(paths: &[String]) -> Vec<Option<String>> {
    paths.par_iter().map(|path| hash_file(Path::new(path))).collect()
}

fn hash_file(path: &Path) -> Option<String> {
    let mut hasher = blake3::Hasher::new();
    let mut file = open_regular(path).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
            }
            Err(_) => return None,
        }
    }
    Some(hasher.finalize().to_hex()[..32].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_hash() {
        assert_eq!(hash_bytes(b"abc"), hash_bytes(b"abc"));
        assert_ne!(hash_bytes(b"abc"), hash_bytes(b"abd"));
        assert_eq!(hash_bytes(b"").len(), 32);
    }

    #[test]
    fn unreadable_files_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.md");
        std::fs::write(&file, "hello").unwrap();
        let got = hash_files(&[
            file.to_string_lossy().into_owned(),
            dir.path().join("missing").to_string_lossy().into_owned(),
        ]);
        assert_eq!(got[0].as_deref(), Some(hash_bytes(b"hello").as_str()));
        assert!(got[1].is_none());
    }
}
