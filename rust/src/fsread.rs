//! Reading the files of a knowledge base as the walk saw them, not what replaced them since.
//!
//! Between the walk and the read a file can become a symlink to a file outside the knowledge
//! base, a FIFO, a device, or grow past the size limit. So a file is opened without following
//! symlinks (for a path under a root: on every component, with `openat`), without blocking
//! (a FIFO opens at once instead of waiting for a writer), and is used only when the open
//! handle is a regular file; its size is checked on that handle, and reading stops past it.

use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::path::Path;

#[derive(Debug)]
pub enum ReadError {
    /// The path, or a folder on the way, is a symlink now.
    Symlink,
    /// A FIFO, a device, a socket or a folder: never read.
    NotRegular,
    /// Larger than the limit when opened, or grew past it while being read.
    TooLarge,
    Io(io::Error),
}

impl ReadError {
    /// The reason recorded for a skipped file (`lore status` lists it).
    pub fn reason(&self) -> String {
        match self {
            ReadError::Symlink => "unreadable: replaced by a symlink".into(),
            ReadError::NotRegular => "unreadable: not a regular file".into(),
            ReadError::TooLarge => "too-large".into(),
            ReadError::Io(e) => format!("unreadable: {}", e.kind()),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        if e.raw_os_error() == Some(libc::ELOOP) {
            ReadError::Symlink
        } else {
            ReadError::Io(e)
        }
    }
}

const FILE_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC;

fn open_at(dir: RawFd, name: &[u8], flags: libc::c_int) -> Result<File, ReadError> {
    let name = CString::new(name).map_err(|_| ReadError::Io(io::ErrorKind::InvalidInput.into()))?;
    // SAFETY: `name` is a valid C string and `dir` an open descriptor (or AT_FDCWD).
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn regular(file: File) -> Result<File, ReadError> {
    if file.metadata()?.file_type().is_file() {
        Ok(file)
    } else {
        Err(ReadError::NotRegular)
    }
}

/// Open `path` for reading if it is a regular file and not a symlink.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    regular(open_at(libc::AT_FDCWD, path.as_os_str().as_bytes(), FILE_FLAGS)?)
}

/// Open `rel_path` (`/`-separated) under `root` if it is a regular file, following no symlink
/// below `root`: each folder on the way is opened with `O_NOFOLLOW`, then the file.
pub fn open_under(root: &Path, rel_path: &str) -> Result<File, ReadError> {
    let parts: Vec<&str> = rel_path.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        return Err(ReadError::Io(io::ErrorKind::InvalidInput.into()));
    }
    let mut dir = open_at(libc::AT_FDCWD, root.as_os_str().as_bytes(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)?;
    let (name, folders) = parts.split_last().expect("split gives at least one part");
    for folder in folders {
        dir = open_at(dir.as_raw_fd(), folder.as_bytes(), DIR_FLAGS)?;
    }
    regular(open_at(dir.as_raw_fd(), name.as_bytes(), FILE_FLAGS)?)
}

/// The whole content of an open file, if it holds at most `max_bytes`, checked on the handle
/// before reading and again while reading (the file may still be growing).
pub fn read_capped(file: File, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    let size = file.metadata()?.len();
    if size > max_bytes {
        return Err(ReadError::TooLarge);
    }
    let mut data = Vec::with_capacity(size as usize);
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut data)?;
    if data.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn reads_a_regular_file_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("docs")).unwrap();
        fs::write(dir.path().join("docs/a.md"), "hello").unwrap();
        let file = open_under(dir.path(), "docs/a.md").unwrap();
        assert_eq!(read_capped(file, 100).unwrap(), b"hello");
    }

    #[test]
    fn symlinks_fifos_and_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.md"), "outside text").unwrap();
        fs::create_dir(dir.path().join("docs")).unwrap();
        symlink(outside.path().join("secret.md"), dir.path().join("docs/swapped.md")).unwrap();
        symlink(outside.path(), dir.path().join("linked")).unwrap();
        mkfifo(&dir.path().join("docs/pipe.md"));
        assert!(matches!(open_under(dir.path(), "docs/swapped.md"), Err(ReadError::Symlink)));
        // A folder that is a symlink: ELOOP or ENOTDIR, depending on the system.
        assert!(open_under(dir.path(), "linked/secret.md").is_err());
        assert!(matches!(open_under(dir.path(), "docs/pipe.md"), Err(ReadError::NotRegular)));
        assert!(matches!(open_under(dir.path(), "docs"), Err(ReadError::NotRegular)));
        assert!(matches!(open_under(dir.path(), "docs/../docs/pipe.md"), Err(ReadError::Io(_))));
        assert!(matches!(open_regular(&dir.path().join("docs/swapped.md")), Err(ReadError::Symlink)));
        assert!(matches!(open_regular(&dir.path().join("docs/pipe.md")), Err(ReadError::NotRegular)));
    }

    #[test]
    fn size_is_checked_on_the_handle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.md");
        fs::write(&path, "x".repeat(200)).unwrap();
        assert!(matches!(read_capped(open_regular(&path).unwrap(), 100), Err(ReadError::TooLarge)));
        assert_eq!(read_capped(open_regular(&path).unwrap(), 200).unwrap().len(), 200);
    }
}
