//! What `hull features` reports under `linux.seccomp` (runtime-spec features.md): the
//! actions, operators, architectures and filter flags `compile` accepts.

/// The `linux.seccomp` object of the features document.
pub fn features() -> serde_json::Value {
    let flags = [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];
    serde_json::json!({
        "enabled": true,
        "actions": [
            "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
            "SCMP_ACT_TRAP",
        ],
        "operators": [
            "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
        ],
        // The ABIs an x86_64 kernel runs; other names are accepted and never match.
        "archs": ["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
        "knownFlags": flags,
        "supportedFlags": flags,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn features_parse_as_the_spec_type_and_claim_every_action() {
        let doc = serde_json::json!({
            "ociVersionMin": "1.0.0", "ociVersionMax": "1.2.1",
            "linux": {"seccomp": super::features()},
        });
        let doc: oci_spec::runtime::Features = serde_json::from_value(doc).unwrap();
        let f = doc.linux().as_ref().unwrap().seccomp().clone().unwrap();
        assert_eq!(f.enabled(), &Some(true));
        assert_eq!(f.actions().as_ref().unwrap().len(), 9);
        assert_eq!(f.operators().as_ref().unwrap().len(), 7);
    }
}
