//! Errors in runc's words where callers read them: an errno as Go prints it ("operation
//! not permitted"), not as Rust does ("Operation not permitted (os error 1)"). runc's
//! users and tests match those words in what a container's init reports.

/// `e`'s chain joined by ": " (as `{:#}` joins it), each errno in Go's words.
pub fn go_chain(e: &anyhow::Error) -> String {
    e.chain().map(cause).collect::<Vec<_>>().join(": ")
}

fn cause(c: &(dyn std::error::Error + 'static)) -> String {
    let errno = c
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::raw_os_error)
        .or_else(|| c.downcast_ref::<nix::errno::Errno>().map(|e| *e as i32));
    match errno {
        Some(n) => errno_text(n),
        None => c.to_string(),
    }
}

/// Errno `n`'s text as Go prints it: the C library's, first letter in lower case.
pub fn errno_text(n: i32) -> String {
    let desc = nix::errno::Errno::from_raw(n).desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => format!("errno {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn an_errno_at_the_end_of_a_chain_reads_as_go_prints_it() {
        let e: anyhow::Result<()> =
            Err(std::io::Error::from_raw_os_error(libc::EPERM)).context("setting mount flags");
        let e = e
            .context("error mounting \"a\" to rootfs at \"/b\"")
            .unwrap_err();
        assert_eq!(
            go_chain(&e),
            "error mounting \"a\" to rootfs at \"/b\": setting mount flags: operation not permitted"
        );
        let e = anyhow::Error::new(nix::errno::Errno::ENOENT).context("open /x");
        assert_eq!(go_chain(&e), "open /x: no such file or directory");
    }

    #[test]
    fn errors_without_an_errno_keep_their_text() {
        let e = anyhow::anyhow!("Odd Case: kept");
        assert_eq!(go_chain(&e), "Odd Case: kept");
        let e: anyhow::Error = std::io::Error::other("Not An Errno").into();
        assert_eq!(go_chain(&e), "Not An Errno");
    }
}
