//! The syscall ABIs an x86_64 kernel can be entered through, and how a profile's
//! `architectures` list maps onto them. The kernel reports x86_64 and x32 calls with the
//! same audit arch (x32 numbers have bit 30 set) and i386 calls (`int 0x80`, compat
//! `sysenter`) with their own.

use super::{syscalls_i386, syscalls_x32, syscalls_x86_64};
use oci_spec::runtime::Arch;
use std::collections::HashMap;

/// `AUDIT_ARCH_X86_64` (EM_X86_64 | 64-bit | little-endian): x86_64 and x32 calls.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386` (EM_386 | little-endian): 32-bit calls.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `__X32_SYSCALL_BIT`: set in every x32 syscall number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Abi {
    X86_64,
    I386,
    X32,
}

impl Abi {
    pub const ALL: [Abi; 3] = [Abi::X86_64, Abi::I386, Abi::X32];

    /// (name, number) of every syscall of this ABI.
    fn entries(self) -> impl Iterator<Item = (&'static str, u32)> {
        let (names, numbers) = match self {
            Abi::X86_64 => (syscalls_x86_64::NAMES, syscalls_x86_64::NUMBERS),
            Abi::I386 => (syscalls_i386::NAMES, syscalls_i386::NUMBERS),
            Abi::X32 => (syscalls_x32::NAMES, syscalls_x32::NUMBERS),
        };
        names.split_terminator('\0').zip(numbers.iter().copied())
    }

    /// Arguments are 64-bit on x86_64 and x32; on i386 only the low 32 bits exist.
    pub fn has_64bit_args(self) -> bool {
        self != Abi::I386
    }

    /// The name->number map of this ABI.
    pub fn numbers(self) -> HashMap<&'static str, u32> {
        self.entries().collect()
    }

    /// The ABI a spec architecture names on this machine; `None` for architectures an
    /// x86_64 kernel never reports (ARM, MIPS, ...): rules for them can never match.
    pub fn from_spec(a: Arch) -> Option<Abi> {
        match a {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Some(Abi::X86_64),
            Arch::ScmpArchX86 => Some(Abi::I386),
            Arch::ScmpArchX32 => Some(Abi::X32),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_agree_with_well_known_numbers() {
        assert_eq!(Abi::X86_64.numbers()["getpid"], 39);
        assert_eq!(Abi::I386.numbers()["getpid"], 20);
        assert_eq!(Abi::X32.numbers()["getpid"], X32_SYSCALL_BIT | 39);
        // x32 has its own numbers for calls whose structs differ from x86_64's.
        assert_eq!(Abi::X32.numbers()["rt_sigaction"], X32_SYSCALL_BIT | 512);
        assert_eq!(Abi::X86_64.numbers()["mseal"], 462);
        assert!(!Abi::I386.numbers().contains_key("uretprobe"));
    }

    #[test]
    fn every_name_has_its_number() {
        for (names, numbers) in [
            (syscalls_x86_64::NAMES, syscalls_x86_64::NUMBERS),
            (syscalls_i386::NAMES, syscalls_i386::NUMBERS),
            (syscalls_x32::NAMES, syscalls_x32::NUMBERS),
        ] {
            assert_eq!(names.split_terminator('\0').count(), numbers.len());
            assert!(numbers.len() > 300);
        }
    }

    #[test]
    fn no_table_repeats_a_name_or_a_number() {
        for abi in Abi::ALL {
            let t: Vec<_> = abi.entries().collect();
            let names: std::collections::HashSet<_> = t.iter().map(|e| e.0).collect();
            let nrs: std::collections::HashSet<_> = t.iter().map(|e| e.1).collect();
            assert_eq!(names.len(), t.len(), "{abi:?} repeats a name");
            assert_eq!(nrs.len(), t.len(), "{abi:?} repeats a number");
        }
    }
}
