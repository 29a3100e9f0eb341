//! Files only this server's user may read: certificates' private keys and ACME account keys.

use std::path::Path;

/// Writes `contents` to `path`, created with mode 0600 (or truncated, keeping its mode).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}
