//! Where the simulated platforms find the committed development keys: `MOCK_KEYS_DIR`, else
//! `config/dev-keys` under the current directory, else under `$GUAHAO_ROOT`, else in the source
//! tree this binary was built from.

use std::path::PathBuf;

pub fn keys_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("MOCK_KEYS_DIR") {
        return dir.into();
    }
    let local = PathBuf::from("config/dev-keys");
    if local.is_dir() {
        return local;
    }
    if let Ok(root) = std::env::var("GUAHAO_ROOT") {
        return PathBuf::from(root).join("config/dev-keys");
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/dev-keys"))
}
