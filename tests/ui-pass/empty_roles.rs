//! A config without roles still gives a struct (and its hub, for the dynamic API).
#![deny(warnings, missing_docs)]

llmhub::roles!("fixtures/ui/empty_roles.yaml");

fn main() -> Result<(), llmhub::Error> {
    assert!(Roles::ROLE_NAMES.is_empty());
    let roles = Roles::new()?;
    assert!(roles.hub().config().roles.is_empty());
    Ok(())
}
