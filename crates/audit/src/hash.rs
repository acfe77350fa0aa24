//! The canonical form of an event and the hashes over it: defined in the store
//! (`probity_store::hash`), where the group committer seals each event in its own
//! transaction (ADR 0013); re-exported here for the verifier, bundles and the sealer.
pub use probity_store::hash::*;
