//! Cargo rebuilds a crate that uses `roles!` when its YAML changes: the macro embeds the file with
//! `include_str!`, which puts it in the crate's dep-info.
//!
//! The test builds a small crate in a temporary directory with `cargo build`, adds a role to its
//! `llmhub.yaml`, builds again, and runs the binary: the new role is there. It shares a target
//! directory (`<target dir>/tmp/rebuild-test`) across runs, so only the first run compiles the dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;

const ONE_ROLE: &str = "project: probe
env: dev
providers:
  openai: { env_key: OPENAI_API_KEY }
roles:
  llm.inference: { provider: openai, model: gpt-4.1, mode: chat }
";

const MAIN: &str = r#"llmhub::roles!("llmhub.yaml");

fn main() {
    println!("{}", Roles::ROLE_NAMES.join(","));
}
"#;

struct Probe {
    /// The probe crate, in a temporary directory removed on drop.
    dir: tempfile::TempDir,
    target: PathBuf,
}

impl Probe {
    fn new() -> Probe {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::Builder::new()
            .prefix("llmhub-rebuild-probe-")
            .tempdir()
            .unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        let manifest = format!(
            "[package]\nname = \"llmhub-rebuild-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nllmhub = {{ path = {:?} }}\n\n[workspace]\n",
            workspace.display().to_string()
        );
        std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
        // The workspace's lock file pins the same versions, so nothing is resolved or downloaded.
        std::fs::copy(workspace.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
        std::fs::write(root.join("src/main.rs"), MAIN).unwrap();
        std::fs::write(root.join("llmhub.yaml"), ONE_ROLE).unwrap();
        Probe {
            dir,
            target: Path::new(env!("CARGO_TARGET_TMPDIR")).join("rebuild-test"),
        }
    }

    /// `cargo build`, then runs the binary and returns what it prints.
    fn build_and_run(&self) -> String {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let build = Command::new(cargo)
            .args(["build", "--offline", "--quiet"])
            .current_dir(self.dir.path())
            .env("CARGO_TARGET_DIR", &self.target)
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "cargo build failed:\n{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let run = Command::new(self.target.join("debug/llmhub-rebuild-probe"))
            .output()
            .unwrap();
        assert!(run.status.success());
        String::from_utf8(run.stdout).unwrap().trim().to_owned()
    }
}

#[test]
fn cargo_rebuilds_when_the_yaml_changes() {
    let probe = Probe::new();
    assert_eq!(probe.build_and_run(), "llm.inference");

    // Only the YAML changes: no Rust file is touched.
    let two_roles = format!(
        "{ONE_ROLE}  llm.embedding: {{ provider: openai, model: text-embedding-3-small, mode: embedding }}\n"
    );
    std::fs::write(probe.dir.path().join("llmhub.yaml"), two_roles).unwrap();
    assert_eq!(probe.build_and_run(), "llm.inference,llm.embedding");
}
