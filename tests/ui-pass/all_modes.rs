//! One role per mode: each method returns the handle of its mode.
#![deny(warnings, missing_docs)]

llmhub::roles!("fixtures/ui/all_modes.yaml");

fn main() -> Result<(), llmhub::Error> {
    let roles = Roles::new()?;
    let _: llmhub::ChatRole<'_> = roles.assistant();
    let _: llmhub::ToolRole<'_> = roles.agent();
    let _: llmhub::EmbeddingRole<'_> = roles.vectors();
    let _: llmhub::ImageRole<'_> = roles.painter();
    let _: llmhub::AudioRole<'_> = roles.voice();
    let _: llmhub::OtherRole<'_> = roles.moderation();
    Ok(())
}
