//! `roles!(Name, "path")` names the struct; two configs live side by side.
#![deny(warnings, missing_docs)]

llmhub::roles!(MemoryRoles, "fixtures/llmhub.yaml");
llmhub::roles!(OddRoles, "fixtures/ui/odd_names.yaml",);

fn main() -> Result<(), llmhub::Error> {
    let memory = MemoryRoles::builder().build()?;
    let _: llmhub::EmbeddingRole<'_> = memory.llm_embedding();
    assert_eq!(OddRoles::ROLE_NAMES.len(), 7);
    Ok(())
}
