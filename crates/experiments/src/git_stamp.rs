//! The commit a build comes from: `HEAD` of the checkout it was compiled in, marked where its code differed.
//!
//! Compiled twice: into the library, and into its build script (`build.rs`, through `#[path]`), which stamps
//! the result into the build as `SHIFT_BUILD_COMMIT` (`run_folder::BUILD_COMMIT`).

use std::path::Path;

/// The workspace's files, relative to its root, that shape the binary beside the crates' own: the manifests,
/// the toolchain and cargo settings, and the dataset manifest the binary embeds.
pub const SHARED: [&str; 5] = [
    "Cargo.toml",
    "Cargo.lock",
    "rust-toolchain.toml",
    ".cargo/config.toml",
    "datasets/manifest.toml",
];

/// A crate's folders that the binary does not compile.
pub const NOT_CODE: [&str; 3] = ["tests", "benches", "examples"];

/// The paths, relative to the workspace `root`, whose files make the binary: [`SHARED`] and every entry of each
/// `crates/*` folder but [`NOT_CODE`] (sources, manifests, build scripts, native code), those that exist,
/// sorted. What `+dirty` looks at, and what the build script watches so that a change to them stamps anew (a
/// test's edit does neither).
pub fn code_paths(root: &Path) -> Vec<String> {
    let mut paths: Vec<String> = SHARED
        .iter()
        .filter(|p| root.join(p).exists())
        .map(|p| p.to_string())
        .collect();
    let entries = |dir: &Path| -> Vec<String> {
        let Ok(read) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        read.flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect()
    };
    let crates = root.join("crates");
    for krate in entries(&crates) {
        if !crates.join(&krate).is_dir() {
            continue;
        }
        for entry in entries(&crates.join(&krate)) {
            if !NOT_CODE.contains(&entry.as_str()) {
                paths.push(format!("crates/{krate}/{entry}"));
            }
        }
    }
    paths.sort();
    paths
}

/// `git rev-parse HEAD` of the checkout whose top folder is `dir`, with `+dirty` where tracked files under
/// `paths` differ from it (untracked files do not count), `+unknown-status` where git could not tell, and
/// "unknown" where `dir` is not a checkout's top (a source tree inside another repository, say) or git is
/// missing.
pub fn commit_of(dir: &Path, paths: &[&str]) -> String {
    let top = git_in(dir, &["rev-parse", "--show-toplevel"]).map(std::path::PathBuf::from);
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if !top.is_some_and(|top| same(&top, dir)) {
        return "unknown".into();
    }
    let Some(head) = git_in(dir, &["rev-parse", "HEAD"]) else {
        return "unknown".into();
    };
    // No optional locks: a status that refreshed the index would hold .git/index.lock against a user's commit.
    let mut status = vec![
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
    ];
    status.extend_from_slice(paths);
    match git_in(dir, &status) {
        Some(changes) if changes.is_empty() => head,
        Some(_) => format!("{head}+dirty"),
        None => format!("{head}+unknown-status"),
    }
}

/// `git -C dir ARGS`'s trimmed standard output, or None where git is missing or fails.
pub fn git_in(dir: &Path, args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_names_the_head_and_says_when_tracked_code_differs() {
        let dir = tempfile::tempdir().unwrap();
        // Not a checkout's top folder (whether or not it lies inside one).
        assert_eq!(commit_of(dir.path(), &["code"]), "unknown", "not a checkout");
        let git = |args: &[&str]| {
            // A user's signing or hooks must not decide the test.
            let config = [
                "-c",
                "user.name=shift",
                "-c",
                "user.email=shift@example.invalid",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "core.hooksPath=/dev/null",
            ];
            let all: Vec<&str> = config.iter().chain(args).copied().collect();
            assert!(git_in(dir.path(), &all).is_some(), "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::create_dir(dir.path().join("code")).unwrap();
        std::fs::write(dir.path().join("code/a.rs"), "one").unwrap();
        std::fs::write(dir.path().join("notes.md"), "one").unwrap();
        git(&["add", "code/a.rs", "notes.md"]);
        git(&["commit", "-q", "-m", "one"]);
        let head = commit_of(dir.path(), &["code"]);
        assert_eq!(head.len(), 40, "{head}");
        assert!(head.chars().all(|c| c.is_ascii_hexdigit()), "{head}");
        // An untracked file, or a changed tracked file outside the code, leaves the code the commit's.
        std::fs::write(dir.path().join("code/b.rs"), "new").unwrap();
        std::fs::write(dir.path().join("notes.md"), "two").unwrap();
        assert_eq!(commit_of(dir.path(), &["code"]), head);
        assert_eq!(commit_of(dir.path(), &["notes.md"]), format!("{head}+dirty"));
        std::fs::write(dir.path().join("code/a.rs"), "two").unwrap();
        assert_eq!(commit_of(dir.path(), &["code"]), format!("{head}+dirty"));
        // A folder inside the checkout is not its top: a source tree there is not what HEAD holds.
        assert_eq!(commit_of(&dir.path().join("code"), &["."]), "unknown");
    }

    #[test]
    fn the_code_is_the_crates_but_their_tests_and_the_shared_files_that_exist() {
        let root = tempfile::tempdir().unwrap();
        for dir in [
            "crates/a/src",
            "crates/a/tests",
            "crates/b/native",
            "crates/b/benches",
            ".cargo",
        ] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        for file in [
            "crates/a/Cargo.toml",
            "crates/b/build.rs",
            "Cargo.toml",
            ".cargo/config.toml",
            "crates/x",
        ] {
            std::fs::write(root.path().join(file), "").unwrap();
        }
        assert_eq!(
            code_paths(root.path()),
            [
                ".cargo/config.toml",
                "Cargo.toml",
                "crates/a/Cargo.toml",
                "crates/a/src",
                "crates/b/build.rs",
                "crates/b/native"
            ]
        );
        assert!(code_paths(&root.path().join("nowhere")).is_empty());
    }
}
