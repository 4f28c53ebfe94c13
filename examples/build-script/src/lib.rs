//! The build-script route : `build.rs` runs `llmhub_codegen::Builder`, which writes the
//! roles of the workspace's `fixtures/llmhub.yaml` to `$OUT_DIR/llmhub_roles.rs`; this library
//! includes them. Same checks and same API as `llmhub::roles!`, and the generated file is plain
//! code that rustc and clippy check like any other (this crate denies warnings, missing docs and
//! clippy's pedantic lints).
#![deny(warnings, missing_docs, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/llmhub_roles.rs"));

/// The same config through the macro, to show that the two routes give the same API.
pub mod by_macro {
    llmhub::roles!("../../fixtures/llmhub.yaml");
}

#[cfg(test)]
mod tests {
    use super::{Roles, by_macro};

    #[test]
    fn the_build_script_and_the_macro_give_the_same_roles() {
        assert_eq!(Roles::ROLE_NAMES, by_macro::Roles::ROLE_NAMES);
        assert_eq!(
            <Roles as llmhub::__private::GeneratedRoles>::COMPILED,
            <by_macro::Roles as llmhub::__private::GeneratedRoles>::COMPILED
        );
        assert_eq!(
            <Roles as llmhub::__private::GeneratedRoles>::YAML,
            <by_macro::Roles as llmhub::__private::GeneratedRoles>::YAML
        );
    }

    #[test]
    fn the_same_methods_return_the_same_typed_handles() {
        let built = Roles::new().unwrap();
        let expanded = by_macro::Roles::new().unwrap();
        let handles: [(llmhub::ChatRole<'_>, llmhub::ChatRole<'_>); 4] = [
            (built.llm_preprocess(), expanded.llm_preprocess()),
            (built.llm_memwrite(), expanded.llm_memwrite()),
            (built.llm_memread(), expanded.llm_memread()),
            (built.llm_inference(), expanded.llm_inference()),
        ];
        for (a, b) in &handles {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        let (a, b): (llmhub::EmbeddingRole<'_>, llmhub::EmbeddingRole<'_>) =
            (built.llm_embedding(), expanded.llm_embedding());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn the_generated_struct_runs_the_compiled_in_config() {
        let roles = Roles::new().unwrap();
        let config = roles.hub().config();
        let inference = config.role("llm.inference").unwrap();
        assert_eq!(inference.model, "gpt-4.1");
        assert_eq!(config.source_name, "../../fixtures/llmhub.yaml");
    }
}
