//! Role names that are not identifiers still get methods, by the method-name rule.
#![deny(warnings, missing_docs)]

llmhub::roles!("fixtures/ui/odd_names.yaml");

fn main() -> Result<(), llmhub::Error> {
    let roles = Roles::new()?;
    let _: llmhub::ChatRole<'_> = roles.role_2nd_pass();
    let _: llmhub::ChatRole<'_> = roles.summarize_v2_fast();
    let _: llmhub::ChatRole<'_> = roles.type_();
    let _: llmhub::EmbeddingRole<'_> = roles.async_();
    let _: llmhub::ToolRole<'_> = roles.hub_();
    let _: llmhub::ChatRole<'_> = roles.r_sum_court();
    let _: llmhub::ChatRole<'_> = roles.role_e8a681e7b484();
    let _: &llmhub::Hub = roles.hub();
    assert_eq!(Roles::ROLE_NAMES[6], "要約");
    Ok(())
}
