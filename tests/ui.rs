//! Compile-time checks of `llmhub::roles!`, with trybuild: every config problem and
//! §4.1 is a compile error located in the YAML file; an unknown role or a wrong-mode call does
//! not compile (`tests/ui/`); good configs, odd role names included, compile under
//! `#![deny(warnings, missing_docs)]` and run (`tests/ui-pass/`).
//!
//! trybuild compiles each case inside `target/tests/trybuild/llmhub/`, so `CARGO_MANIFEST_DIR`
//! points there. As askama does with its templates, this test links the workspace's `fixtures/`
//! folder into that directory, so the cases name `fixtures/...` exactly as a user's crate would
//! and the `.stderr` snapshots show portable paths (`--> fixtures/ui/x.yaml:10:15`).

use std::path::{Path, PathBuf};

/// trybuild's project directory for this crate: `<target dir>/tests/trybuild/llmhub`.
/// `CARGO_TARGET_TMPDIR` is `<target dir>/tmp`, whatever `CARGO_TARGET_DIR` or `--target` say.
fn trybuild_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory")
        .join("tests")
        .join("trybuild")
        .join(env!("CARGO_PKG_NAME"))
}

fn link_fixtures() {
    let dir = trybuild_dir();
    std::fs::create_dir_all(&dir).expect("create trybuild's project directory");
    let link = dir.join("fixtures");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    if std::fs::read_link(&link).ok().as_deref() != Some(fixtures.as_path()) {
        let _ = std::fs::remove_file(&link);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&fixtures, &link).expect("link fixtures/ into trybuild's dir");
        #[cfg(windows)]
        std::os::windows::fs::symlink_dir(&fixtures, &link)
            .expect("link fixtures/ into trybuild's dir");
    }
}

#[test]
fn ui() {
    link_fixtures();
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui-pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}
