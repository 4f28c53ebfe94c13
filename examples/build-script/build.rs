//! Generates the roles of the workspace's canonical `fixtures/llmhub.yaml` into
//! `$OUT_DIR/llmhub_roles.rs`: the same checks and the same API as `llmhub::roles!`.

fn main() {
    llmhub_codegen::Builder::new("../../fixtures/llmhub.yaml")
        .struct_name("Roles")
        .write_to_out_dir("llmhub_roles.rs")
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
}
