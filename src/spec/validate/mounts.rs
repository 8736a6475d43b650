//! Rules for `mounts`: destinations stay inside the container's root (a relative one is
//! taken from `/`, as runc still does); idmapped mounts carry both maps.

use oci_spec::runtime::Mount;

use super::escapes_root;

pub fn check(mounts: &[Mount]) -> Result<(), String> {
    for (i, m) in mounts.iter().enumerate() {
        let field = format!("mounts[{i}]");
        let dest = m.destination();
        // A relative destination is accepted (create warns: rootfs::mounts).
        if escapes_root(dest) {
            return Err(format!(
                "{field}.destination {dest:?} escapes the container's root through \"..\""
            ));
        }
        match (m.uid_mappings().is_some(), m.gid_mappings().is_some()) {
            (true, false) => return Err(format!("{field}.uidMappings requires gidMappings too")),
            (false, true) => return Err(format!("{field}.gidMappings requires uidMappings too")),
            _ => {}
        }
    }
    Ok(())
}
