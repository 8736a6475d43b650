//! The runtime-spec features document (features.md) for what this build supports.

/// Features JSON; lists only what hull implements at this commit.
pub fn features() -> serde_json::Value {
    serde_json::json!({ "ociVersionMin": "1.0.0", "ociVersionMax": crate::OCI_VERSION })
}
