//! Prints the roles that `build.rs` generated from `fixtures/llmhub.yaml`, with their bindings.
//!
//! ```text
//! cargo run -p llmhub-example-build-script
//! ```

use llmhub_example_build_script::Roles;

fn main() -> Result<(), llmhub::Error> {
    let roles = Roles::new()?;
    let config = roles.hub().config();
    println!("{} roles compiled in by build.rs:", Roles::ROLE_NAMES.len());
    for name in Roles::ROLE_NAMES {
        if let Some(role) = config.role(name) {
            println!(
                "  {name:<16} {:<10} {}/{}",
                role.mode.as_str(),
                role.provider,
                role.model
            );
        }
    }
    // A typed handle: `.completion(..)` on it compiles, `.embedding(..)` would not.
    let inference = roles.llm_inference();
    println!("typed handle: {inference:?}");
    Ok(())
}
