//! sky's SSH key pair on disk.

use std::os::unix::fs::PermissionsExt;

use sky_exec::SshKeyPair;

#[test]
fn key_files_are_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("state/keys");
    let pair = SshKeyPair::ensure(&keys).unwrap();
    assert_eq!(pair.private_key_path(), keys.join("sky-key"));
    assert_eq!(pair.public_key_path(), keys.join("sky-key.pub"));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(pair.private_key_path()), 0o600);
    assert_eq!(mode(&keys), 0o700);
    assert!(pair.public_key_openssh().starts_with("ssh-ed25519 "));
    let private = std::fs::read_to_string(pair.private_key_path()).unwrap();
    assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    // A second call (another process, later) reuses the key and repairs loose permissions.
    std::fs::set_permissions(
        pair.private_key_path(),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let again = SshKeyPair::ensure(&keys).unwrap();
    assert_eq!(again, pair);
    assert_eq!(mode(pair.private_key_path()), 0o600);
    assert_eq!(
        std::fs::read_to_string(pair.private_key_path()).unwrap(),
        private
    );
}

#[test]
fn concurrent_callers_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let keys = keys.clone();
            std::thread::spawn(move || SshKeyPair::ensure(&keys).unwrap())
        })
        .collect();
    let pairs: Vec<SshKeyPair> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(pairs.windows(2).all(|w| w[0] == w[1]));
    let leftovers: Vec<_> = std::fs::read_dir(&keys)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
