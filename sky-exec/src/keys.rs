//! sky's SSH key pair: generated once, reused, kept private.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey, PublicKey};

use crate::error::{ExecError, Result};

/// The default file name of sky's private key (`<dir>/sky-key`, public key `sky-key.pub`).
pub const DEFAULT_KEY_NAME: &str = "sky-key";

/// An SSH key pair on disk: the private key (mode 0600) and its OpenSSH public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshKeyPair {
    private_key: PathBuf,
    public_key: PathBuf,
    public_openssh: String,
}

fn key_err(path: &Path, message: impl Into<String>) -> ExecError {
    ExecError::Key {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn io_key_err(path: &Path, what: &str, e: std::io::Error) -> ExecError {
    key_err(path, format!("{what}: {e}"))
}

impl SshKeyPair {
    /// sky's own key pair `<dir>/sky-key` and `<dir>/sky-key.pub`; see
    /// [`SshKeyPair::ensure_named`].
    pub fn ensure(dir: &Path) -> Result<Self> {
        Self::ensure_named(dir, DEFAULT_KEY_NAME)
    }

    /// sky's own ed25519 key pair `<dir>/<name>` and `<dir>/<name>.pub`, generated if the
    /// private key does not exist.
    ///
    /// Idempotent and safe against concurrent callers: the private key is written to a
    /// temporary file (mode 0600) and hard-linked into place, so exactly one generated key
    /// wins and every caller returns it. An existing private key must parse as an OpenSSH
    /// key; its mode is tightened to 0600 if it was looser. The public key file is rewritten
    /// when missing or not matching the private key. A newly created `dir` gets mode 0700.
    pub fn ensure_named(dir: &Path, name: &str) -> Result<Self> {
        if name.is_empty() || name.contains('/') {
            return Err(key_err(dir, format!("invalid key file name {name:?}")));
        }
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_key_err(dir, "creating the key directory", e))?;
        }
        let private_path = dir.join(name);
        if !private_path.exists() {
            generate_into(dir, &private_path)?;
        }
        let private = read_private(&private_path)?;
        tighten(&private_path)?;
        let public_path = dir.join(format!("{name}.pub"));
        let public_openssh = public_line(&private_path, private.public_key())?;
        let current = fs::read_to_string(&public_path).ok();
        let matches = current
            .as_deref()
            .and_then(|c| PublicKey::from_openssh(c.trim()).ok())
            .is_some_and(|p| p.key_data() == private.public_key().key_data());
        if !matches {
            write_atomically(
                &public_path,
                format!("{public_openssh}\n").as_bytes(),
                0o644,
            )?;
        }
        Ok(SshKeyPair {
            private_key: private_path,
            public_key: public_path,
            public_openssh,
        })
    }

    /// A key pair the user brings: `private_key` must be an OpenSSH private key readable only
    /// by its owner (ssh refuses others). The public key is read from `<private_key>.pub` when
    /// present and matching, otherwise derived from the private key. Nothing is written.
    pub fn from_private_key(private_key: &Path) -> Result<Self> {
        let private = read_private(private_key)?;
        let mode = fs::metadata(private_key)
            .map_err(|e| io_key_err(private_key, "reading its permissions", e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(key_err(
                private_key,
                format!(
                    "permissions {:o} are too open; ssh refuses such keys (run chmod 600 on it)",
                    mode & 0o777
                ),
            ));
        }
        let public_path = PathBuf::from(format!("{}.pub", private_key.display()));
        let public_openssh = fs::read_to_string(&public_path)
            .ok()
            .and_then(|c| {
                let line = c.trim().to_string();
                PublicKey::from_openssh(&line)
                    .ok()
                    .filter(|p| p.key_data() == private.public_key().key_data())
                    .map(|_| line)
            })
            .map_or_else(|| public_line(private_key, private.public_key()), Ok)?;
        Ok(SshKeyPair {
            private_key: private_key.to_path_buf(),
            public_key: public_path,
            public_openssh,
        })
    }

    /// The private key file.
    pub fn private_key_path(&self) -> &Path {
        &self.private_key
    }

    /// The public key file (for a user-supplied key it may not exist; use
    /// [`SshKeyPair::public_key_openssh`]).
    pub fn public_key_path(&self) -> &Path {
        &self.public_key
    }

    /// The public key in OpenSSH format (`ssh-ed25519 AAAA... comment`), as it goes into a
    /// node's `authorized_keys` or a cloud's key-pair import.
    pub fn public_key_openssh(&self) -> &str {
        &self.public_openssh
    }
}

fn read_private(path: &Path) -> Result<PrivateKey> {
    let text = fs::read_to_string(path).map_err(|e| io_key_err(path, "reading", e))?;
    PrivateKey::from_openssh(text.trim_start()).map_err(|e| {
        key_err(
            path,
            format!("not an OpenSSH private key ({e}); remove it to let sky generate a new one"),
        )
    })
}

fn public_line(path: &Path, key: &PublicKey) -> Result<String> {
    key.to_openssh()
        .map_err(|e| key_err(path, format!("encoding the public key: {e}")))
}

/// Sets mode 0600 on a private key whose mode lets anyone else read it.
fn tighten(path: &Path) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| io_key_err(path, "reading its permissions", e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| io_key_err(path, "setting mode 0600", e))?;
    }
    Ok(())
}

fn temp_path(dir: &Path, name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()))
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io_key_err(path, "creating", e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_key_err(path, "writing", e))
}

fn write_atomically(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = temp_path(dir, name.as_deref().unwrap_or("key"));
    write_new(&tmp, data, mode)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_key_err(path, "renaming into place", e)
    })
}

/// Generates a key and links it to `private_path` unless another caller got there first.
fn generate_into(dir: &Path, private_path: &Path) -> Result<()> {
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
        .map_err(|e| key_err(private_path, format!("generating an ed25519 key: {e}")))?;
    key.set_comment("sky");
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| key_err(private_path, format!("encoding the key: {e}")))?;
    let tmp = temp_path(dir, "sky-key");
    write_new(&tmp, pem.as_bytes(), 0o600)?;
    let linked = fs::hard_link(&tmp, private_path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_key_err(private_path, "installing the new key", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let a = SshKeyPair::ensure(&keys).unwrap();
        assert_eq!(mode(a.private_key_path()), 0o600);
        assert_eq!(mode(&keys), 0o700);
        assert!(a.public_key_openssh().starts_with("ssh-ed25519 "));
        let b = SshKeyPair::ensure(&keys).unwrap();
        assert_eq!(a, b);
        let on_disk = fs::read_to_string(a.public_key_path()).unwrap();
        assert_eq!(on_disk.trim(), a.public_key_openssh());
    }

    #[test]
    fn repairs_permissions_and_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let a = SshKeyPair::ensure(dir.path()).unwrap();
        fs::set_permissions(a.private_key_path(), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(a.public_key_path(), "garbage").unwrap();
        let b = SshKeyPair::ensure(dir.path()).unwrap();
        assert_eq!(mode(b.private_key_path()), 0o600);
        assert_eq!(
            fs::read_to_string(b.public_key_path()).unwrap().trim(),
            a.public_key_openssh()
        );
    }

    #[test]
    fn rejects_garbage_and_open_user_keys() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("sky-key"), "not a key").unwrap();
        let err = SshKeyPair::ensure(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("not an OpenSSH private key"),
            "{err}"
        );

        let other = tempfile::tempdir().unwrap();
        let mine = SshKeyPair::ensure_named(other.path(), "id").unwrap();
        let user = SshKeyPair::from_private_key(mine.private_key_path()).unwrap();
        assert_eq!(user.public_key_openssh(), mine.public_key_openssh());
        fs::remove_file(mine.public_key_path()).unwrap();
        let derived = SshKeyPair::from_private_key(mine.private_key_path()).unwrap();
        assert_eq!(derived.public_key_openssh(), mine.public_key_openssh());
        fs::set_permissions(mine.private_key_path(), fs::Permissions::from_mode(0o640)).unwrap();
        let err = SshKeyPair::from_private_key(mine.private_key_path()).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
