//! The README's policy-file example is the shipped defaults: it parses, and every value
//! in it equals the default, so the documentation cannot drift from the code.

use probity::settings::Policy;

#[test]
fn the_readme_policy_example_parses_and_equals_the_defaults() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("reading README.md");
    let start = readme
        .find("```toml\n")
        .expect("a toml block in the README")
        + 8;
    let end = start
        + readme[start..]
            .find("```")
            .expect("the end of the toml block");
    let policy: Policy = toml::from_str(&readme[start..end]).expect("the README's policy parses");
    let defaults = Policy::default();
    assert_eq!(policy.time_limits, defaults.time_limits);
    assert_eq!(policy.deadlines, defaults.deadlines);
    assert_eq!(policy.integrity, defaults.integrity);
    assert_eq!(policy.assessment, defaults.assessment);
    assert_eq!(policy.store, defaults.store);
    assert_eq!(policy.http, defaults.http);
    assert_eq!(policy.tokens, defaults.tokens);
    assert_eq!(policy.bus, defaults.bus);
}
