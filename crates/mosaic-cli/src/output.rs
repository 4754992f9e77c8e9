//! Writing into folders the user names without losing anything mosaic did not write.
//!
//! - Files are written to a unique temporary name beside their destination, flushed to disk
//!   (`fsync`) and renamed over it, and the folder is flushed after the rename: a reader or a
//!   crash sees the old file or the new one, never a torn one.
//! - A folder is replaced only when every entry in it is one of the files mosaic writes there
//!   ([`Contents::foreign`] is empty); anything else is the caller's error to report, unless
//!   the user forces it, and even then only mosaic's own files are replaced.
//! - A whole folder is replaced by an atomic exchange of the new folder with the old one
//!   (Linux: `renameat2(RENAME_EXCHANGE)`), so an interruption leaves one of the two in
//!   place. Elsewhere the old folder is first renamed to a unique backup name; an
//!   interruption between the two renames leaves it there, under that name.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What an existing folder holds, against the file names mosaic writes there.
#[derive(Debug)]
pub struct Contents {
    /// Entries that mosaic does not write there (sorted; empty for a folder of mosaic's own).
    pub foreign: Vec<String>,
    /// mosaic's file names present.
    pub own: Vec<String>,
}

/// The entries of `dir`, split into mosaic's (`own_names`) and the rest.
///
/// # Errors
/// A folder that cannot be listed.
pub fn contents(dir: &Path, own_names: &[&str]) -> io::Result<Contents> {
    let mut foreign = Vec::new();
    let mut own = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        if own_names.contains(&name.as_str()) {
            own.push(name);
        } else {
            foreign.push(name);
        }
    }
    foreign.sort();
    own.sort();
    Ok(Contents { foreign, own })
}

/// Writes an experiment's report files, `texts[i]` to `dir/names[i]`, each replaced
/// atomically ([`replace_file`]).
///
/// # Errors
/// A file that cannot be written, named.
pub fn write_report_files(dir: &Path, names: &[&str], texts: &[String]) -> crate::error::Result<()> {
    for (name, text) in names.iter().zip(texts) {
        let path = dir.join(name);
        replace_file(&path, text.as_bytes()).map_err(crate::error::Error::io(&path))?;
    }
    Ok(())
}

/// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line end.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Whether `text`, the contents of the report file `name` of an experiment whose CSV starts
/// with `csv_header`, is one mosaic wrote: its markdown title, its CSV header, or an SVG.
pub fn is_report(name: &str, text: &str, csv_header: &str) -> bool {
    if name.ends_with(".md") {
        text.starts_with("# mosaic reproduce")
    } else if name.ends_with(".csv") {
        text.starts_with(csv_header)
    } else {
        text.starts_with("<svg")
    }
}

/// Makes `dir` if it is missing, and checks that each of the files `names` there is one
/// mosaic wrote (`is_ours(name, contents)`), so that a run may replace it; with `force`,
/// any file of those names may be replaced. Nothing is written.
///
/// # Errors
/// A folder that cannot be made, a file that cannot be read, or one that mosaic did not
/// write (without `force`), named with what to do.
pub fn check_own_files(
    dir: &Path,
    names: &[&str],
    force: bool,
    is_ours: impl Fn(&str, &str) -> bool,
) -> crate::error::Result<()> {
    use crate::error::Error;
    fs::create_dir_all(dir).map_err(Error::io(dir))?;
    for name in names {
        let path = dir.join(name);
        match fs::read(&path) {
            Ok(bytes) if !force && !is_ours(name, &String::from_utf8_lossy(&bytes)) => {
                return Err(Error::file(
                    path,
                    "not written by mosaic reproduce, so it is not replaced: choose another --output, or add --force",
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path)(e)),
        }
    }
    Ok(())
}

/// The first few of `names`, for a message.
pub fn some_of(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
    match names.len() {
        0..=3 => shown.join(", "),
        n => format!("{}, … ({n} entries)", shown.join(", ")),
    }
}

/// A name no other call of this process (or another process) uses: `.{name}.{tag}-{pid}-{n}`.
fn unique_name(name: &str, tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        ".{name}.{tag}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new, empty folder beside `target` (same parent, so the same file system), named
/// uniquely: a stale folder of an earlier run is never reused or removed.
///
/// # Errors
/// A parent that cannot be created or written to.
pub fn sibling_folder(target: &Path, tag: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(parent_of(target))?;
    loop {
        let path = sibling_name(target, tag);
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The folder holding `path` (`.` for a bare name).
pub fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Flushes a folder's entries (renames, new files) to disk.
///
/// # Errors
/// The system's.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `bytes` to `path` and flushes it to disk.
///
/// # Errors
/// The system's.
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Replaces `path` with `bytes` atomically: a unique temporary file beside it, flushed, then
/// renamed over it, then the folder flushed.
///
/// # Errors
/// The system's; the temporary file is removed.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = sibling_name(path, "partial");
    let written = write_synced(&temporary, bytes).and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written?;
    sync_dir(parent_of(path))
}

/// Swaps the folders `a` and `b` (both exist) in one atomic step where the system can
/// (Linux with glibc); elsewhere `b` is renamed to a unique backup name, `a` to `b`, and the
/// backup to `a`.
///
/// # Errors
/// The system's.
pub fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            std::ffi::CString::new(p.as_os_str().as_bytes())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
        };
        let (ca, cb) = (c(a)?, c(b)?);
        // SAFETY: both paths are NUL-terminated C strings that outlive the call.
        let status = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if status == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        // File systems without RENAME_EXCHANGE take the portable path.
        if error.raw_os_error() != Some(libc::EINVAL) && error.raw_os_error() != Some(libc::ENOSYS) {
            return Err(error);
        }
    }
    let backup = sibling_name(b, "old");
    fs::rename(b, &backup)?;
    fs::rename(a, b)?;
    fs::rename(&backup, a)
}

/// A unique name beside `path` (not created).
fn sibling_name(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().to_string());
    parent_of(path).join(unique_name(&name, tag))
}

/// Removes the files `names` from `dir`, then `dir` itself if that left it empty; anything
/// else in it stays (and so does the folder).
pub fn remove_own(dir: &Path, names: &[&str]) {
    for name in names {
        let _ = fs::remove_file(dir.join(name));
    }
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mosaic-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn exchange_swaps_two_folders_and_replace_file_leaves_no_temporary() {
        let dir = scratch("exchange");
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        fs::write(a.join("x"), "new").unwrap();
        fs::write(b.join("y"), "old").unwrap();
        exchange(&a, &b).unwrap();
        assert_eq!(fs::read_to_string(b.join("x")).unwrap(), "new");
        assert_eq!(fs::read_to_string(a.join("y")).unwrap(), "old");

        replace_file(&dir.join("f.txt"), b"one").unwrap();
        replace_file(&dir.join("f.txt"), b"two").unwrap();
        assert_eq!(fs::read_to_string(dir.join("f.txt")).unwrap(), "two");
        let names = contents(&dir, &["a", "b", "f.txt"]).unwrap();
        assert!(names.foreign.is_empty(), "{:?}", names.foreign);

        // Removing mosaic's files keeps the user's, and the folder with them.
        fs::write(b.join("mine.txt"), "user").unwrap();
        remove_own(&b, &["x"]);
        assert!(b.join("mine.txt").is_file() && !b.join("x").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sibling_folders_never_collide_with_stale_ones() {
        let dir = scratch("sibling");
        let target = dir.join("run");
        let first = sibling_folder(&target, "partial").unwrap();
        let second = sibling_folder(&target, "partial").unwrap();
        assert_ne!(first, second);
        assert!(first.is_dir() && second.is_dir());
        fs::remove_dir_all(&dir).unwrap();
    }
}
