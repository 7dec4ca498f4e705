//! Atomic file writes shared by both writers.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::limits;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Reads a whole file, reserving its size fallibly first: a file larger than the memory
/// left is [`Error::OutOfMemory`] (over [`crate::limits::MAX_ELEMENTS`] bytes,
/// [`Error::TooLarge`]), not an abort.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    let mut file = File::open(path).map_err(|e| Error::io("read", path, &e))?;
    // The size is a hint (the file may change while it is read); read_to_end grows from it.
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let what = format_args!("contents of {}", path.display());
    let len = usize::try_from(len).map_err(|_| Error::too_large(what.to_string(), "usize::MAX bytes", len))?;
    let mut bytes = limits::try_with_capacity(len, what)?;
    file.read_to_end(&mut bytes).map_err(|e| Error::io("read", path, &e))?;
    Ok(bytes)
}

/// A temporary file beside `path`, removed on drop unless it was renamed onto `path`.
struct Temp {
    path: PathBuf,
    armed: bool,
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the error being reported is the one that made us give up.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `path` atomically: `write` fills a new temporary file in the same folder, which is
/// flushed, synced and then renamed over `path`. Any error (from `write` or from the file
/// system) removes the temporary file and leaves an existing `path` untouched.
pub(crate) fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            "write",
            path,
            &std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path does not name a file"),
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `.NAME.PID.N.tmp`, with NAME cut to 64 characters so a legal name of up to 255 bytes
    // still gives a legal temporary name (the PID and counter keep it unique).
    let short: String = name.to_string_lossy().chars().take(64).collect();
    let tmp_name = std::ffi::OsString::from(format!(".{short}.{}.{unique}.tmp", std::process::id()));
    let mut tmp = Temp { path: dir.join(tmp_name), armed: true };

    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp.path)
        .map_err(|e| Error::io("create a temporary file for", path, &e))?;
    let mut out = BufWriter::new(file);
    write(&mut out)?;
    let file = out.into_inner().map_err(|e| Error::io("write the temporary file for", path, e.error()))?;
    // Keep the permissions of the file being replaced.
    if let Ok(meta) = fs::metadata(path) {
        let _ = fs::set_permissions(&tmp.path, meta.permissions());
    }
    file.sync_all().map_err(|e| Error::io("sync the temporary file for", path, &e))?;
    drop(file);
    fs::rename(&tmp.path, path).map_err(|e| Error::io("rename the temporary file onto", path, &e))?;
    tmp.armed = false;
    // Make the rename itself durable where the platform allows syncing a folder.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Maps an I/O error raised while a writer streams into the temporary file.
pub(crate) fn write_error(path: &Path, e: &std::io::Error) -> Error {
    Error::io("write the temporary file for", path, e)
}
