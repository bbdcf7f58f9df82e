//! Content hashes: BLAKE3, truncated to 128 bits and written as hex.

use rayon::prelude::*;
use std::fs;

/// BLAKE3 of `data` as 32 lowercase hex characters (the first 128 bits).
pub fn hash_bytes(data: &[u8]) -> String {
    let digest = blake3::hash(data);
    digest.to_hex()[..32].to_string()
}

/// `hash_bytes` of each file's content, in parallel; `None` where the file cannot be read.
pub fn hash_files(paths: &[String]) -> Vec<Option<String>> {
    paths
        .par_iter()
        .map(|path| fs::read(path).ok().map(|data| hash_bytes(&data)))
        .collect()
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
