//! The stable, always-run counterpart of the libFuzzer targets in fuzz/: seeded mutations
//! of every spec fixture through `load_from_bytes`. It lives in the library's unit tests,
//! not in integration/, because every error it provokes captures a backtrace under std's
//! global backtrace lock when RUST_BACKTRACE is set, and integration tests fork from
//! their multithreaded harness (a forked child that needs that lock would hang).

use std::path::Path;

/// The stable counterpart of fuzz/: 20k seeded mutations of every spec fixture (byte
/// flips, truncation, splices, duplicated spans, JSON-aware value swaps) through
/// `load_from_bytes`; any panic fails the test and prints the seed and the input.
#[test]
fn fuzz_corpus_spec_mutations_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec-fixtures");
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    for kind in ["valid", "invalid"] {
        for e in std::fs::read_dir(dir.join(kind)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                corpus.push(std::fs::read(e.path()).unwrap());
            }
        }
    }
    corpus.push(
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/default-config.json"),
        )
        .unwrap(),
    );
    let bundle = std::env::temp_dir().join(format!("hull-fuzz-corpus-{}", std::process::id()));
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let iterations = std::env::var("HULL_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000u32);
    for i in 0..iterations {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        let r = std::panic::catch_unwind(|| {
            let _ = super::load_from_bytes(&input, &bundle);
        });
        assert!(
            r.is_ok(),
            "iteration {i}: panic on input {:?}",
            String::from_utf8_lossy(&input)
        );
    }
    let _ = std::fs::remove_dir_all(&bundle);
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Interesting JSON fragments to splice in place of values.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "-1",
    "0",
    "4294967296",
    "18446744073709551616",
    "-9223372036854775809",
    "1e400",
    "\"\"",
    "[]",
    "{}",
    "\"/\"",
    "\"..\"",
    "\"/proc/self/ns/net\"",
    "\"CAP_ALL\"",
    "\"\\u0000\"",
    "[[[[[[",
    "\"a\\/b\"",
    "1.5",
    "\"SCMP_ACT_NOTIFY\"",
];

fn mutate(rng: &mut XorShift, base: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..=rng.below(4) {
        if v.is_empty() {
            v.extend_from_slice(b"{}");
        }
        let at = rng.below(v.len());
        match rng.below(6) {
            0 => v[at] = rng.next() as u8,
            1 => v.truncate(at),
            2 => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len());
                let len = rng.below(other.len() - from + 1).min(256);
                v.splice(at..at, other[from..from + len].iter().copied());
            }
            3 => {
                let len = rng.below(v.len() - at + 1).min(64);
                let span = v[at..at + len].to_vec();
                v.splice(at..at, span);
            }
            4 => {
                // Replace the value after a ':' with an interesting token.
                if let Some(colon) = v[at..].iter().position(|&b| b == b':') {
                    let start = at + colon + 1;
                    let end = v[start..]
                        .iter()
                        .position(|&b| b == b',' || b == b'}' || b == b']')
                        .map_or(v.len(), |p| start + p);
                    let tok = TOKENS[rng.below(TOKENS.len())].as_bytes();
                    v.splice(start..end, tok.iter().copied());
                }
            }
            _ => {
                let len = rng.below(v.len() - at + 1).min(32);
                v.drain(at..at + len);
            }
        }
    }
    v
}
