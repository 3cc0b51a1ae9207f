//! Stamps the commit the build comes from into the library as `SHIFT_BUILD_COMMIT` (see `src/git_stamp.rs`),
//! and asks cargo to stamp again when the code or the checked-out commit changes.

#[path = "src/git_stamp.rs"]
mod git_stamp;

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    println!(
        "cargo:rustc-env=SHIFT_BUILD_COMMIT={}",
        git_stamp::commit_of(&root, &git_stamp::CODE)
    );
    for path in git_stamp::CODE {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    // A commit, checkout or reset moves HEAD (its reflog grows); a checkout of a branch rewrites HEAD itself.
    for git_path in ["HEAD", "logs/HEAD"] {
        if let Some(path) = git_stamp::git_in(&root, &["rev-parse", "--git-path", git_path]) {
            let path = if Path::new(&path).is_absolute() {
                PathBuf::from(path)
            } else {
                root.join(path)
            };
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
