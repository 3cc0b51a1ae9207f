//! Stamps the commit the build comes from into the library as `SHIFT_BUILD_COMMIT` (see `src/git_stamp.rs`),
//! and asks cargo to stamp again when the code or the checked-out commit changes.

#[path = "src/git_stamp.rs"]
mod git_stamp;

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let code = git_stamp::code_paths(&root);
    let code: Vec<&str> = code.iter().map(String::as_str).collect();
    let stamp = git_stamp::commit_of(&root, &code);
    if stamp == "unknown" || stamp.ends_with("+unknown-status") {
        println!("cargo:warning=shift: run folders will record git_commit \"{stamp}\" (no git, or not a checkout)");
    }
    println!("cargo:rustc-env=SHIFT_BUILD_COMMIT={stamp}");
    // Only paths that exist: cargo runs a script that watches a missing one at every build.
    let watch = |path: PathBuf| {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    };
    for path in &code {
        watch(root.join(path));
    }
    // A checkout rewrites HEAD; a commit moves the branch's ref (a loose file, or packed-refs) and grows HEAD's
    // reflog, where there is one.
    let mut refs = vec!["HEAD".to_string(), "logs/HEAD".into(), "packed-refs".into()];
    refs.extend(git_stamp::git_in(&root, &["rev-parse", "--symbolic-full-name", "HEAD"]));
    for git_path in refs {
        if let Some(path) = git_stamp::git_in(&root, &["rev-parse", "--git-path", &git_path]) {
            watch(if Path::new(&path).is_absolute() {
                PathBuf::from(path)
            } else {
                root.join(path)
            });
        }
    }
}
