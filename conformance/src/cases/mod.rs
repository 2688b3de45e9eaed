//! Every conformance case, grouped by the spec file it checks.
mod hooks;
mod lifecycle;
mod linux;
mod process;
mod resources;

use crate::Case;

pub fn all() -> Vec<Case> {
    let mut v = lifecycle::cases();
    v.extend(process::cases());
    v.extend(linux::cases());
    v.extend(hooks::cases());
    v.extend(resources::cases());
    let mut seen = std::collections::HashSet::new();
    for c in &v {
        assert!(
            seen.insert(c.name.clone()),
            "duplicate case name {}",
            c.name
        );
    }
    v
}
