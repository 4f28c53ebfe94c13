//! The canonical fixture: one typed method per role, under `deny(warnings, missing_docs)`.
#![deny(warnings, missing_docs)]

llmhub::roles!("fixtures/llmhub.yaml");

fn main() -> Result<(), llmhub::Error> {
    assert_eq!(
        Roles::ROLE_NAMES,
        ["llm.preprocess", "llm.memwrite", "llm.memread", "llm.inference", "llm.embedding"]
    );
    let roles = Roles::new()?;
    let _: llmhub::ChatRole<'_> = roles.llm_preprocess();
    let _: llmhub::ChatRole<'_> = roles.llm_memwrite();
    let _: llmhub::ChatRole<'_> = roles.llm_memread();
    let _: llmhub::ChatRole<'_> = roles.llm_inference();
    let _: llmhub::EmbeddingRole<'_> = roles.llm_embedding();
    let _: &llmhub::Hub = roles.hub();
    Ok(())
}
