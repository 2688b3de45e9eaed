//! A classic-BPF program builder that emits the program backwards (last instruction first).
//!
//! Classic BPF only jumps forward, so when an instruction is emitted every target is already
//! placed and its distance is known exactly: no fix-up pass. Conditional jumps have 8-bit
//! offsets; a target further than 255 instructions gets a `ja` trampoline (32-bit offset)
//! right after the conditional jump.

use libc::sock_filter;

pub(crate) const BPF_LD: u16 = 0x00;
pub(crate) const BPF_ALU: u16 = 0x04;
pub(crate) const BPF_JMP: u16 = 0x05;
pub(crate) const BPF_RET: u16 = 0x06;
pub(crate) const BPF_W: u16 = 0x00;
pub(crate) const BPF_ABS: u16 = 0x20;
pub(crate) const BPF_K: u16 = 0x00;
pub(crate) const BPF_AND: u16 = 0x50;
pub(crate) const BPF_JA: u16 = 0x00;
pub(crate) const BPF_JEQ: u16 = 0x10;
pub(crate) const BPF_JGT: u16 = 0x20;
pub(crate) const BPF_JGE: u16 = 0x30;

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// Offsets in `struct seccomp_data`.
pub(crate) const OFF_NR: u32 = 0;
pub(crate) const OFF_ARCH: u32 = 4;
pub(crate) const OFF_ARGS: u32 = 16;

/// A position in the program: the instruction that was emitted when `Builder::here()` returned
/// this value (and everything emitted before it, which comes after it in the final program).
pub(crate) type Label = usize;

#[derive(Default)]
pub(crate) struct Builder {
    /// Instructions in reverse order.
    rev: Vec<sock_filter>,
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

impl Builder {
    /// The label of the most recently emitted instruction (the one that follows whatever is
    /// emitted next).
    pub(crate) fn here(&self) -> Label {
        self.rev.len()
    }

    fn push(&mut self, i: sock_filter) -> Label {
        self.rev.push(i);
        self.here()
    }

    /// `A = seccomp_data[off]` (32-bit word).
    pub(crate) fn load(&mut self, off: u32) -> Label {
        self.push(insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, off))
    }

    /// `A &= k`.
    pub(crate) fn and(&mut self, k: u32) -> Label {
        self.push(insn(BPF_ALU | BPF_AND | BPF_K, 0, 0, k))
    }

    /// `return k`.
    pub(crate) fn ret(&mut self, k: u32) -> Label {
        self.push(insn(BPF_RET | BPF_K, 0, 0, k))
    }

    /// Unconditional jump to `target`.
    pub(crate) fn ja(&mut self, target: Label) -> Label {
        let off = self.here() - target;
        self.push(insn(BPF_JMP | BPF_JA, 0, 0, off as u32))
    }

    /// `if (A <op> k) goto jt else goto jf`, with trampolines for far targets.
    pub(crate) fn jump(&mut self, op: u16, k: u32, jt: Label, jf: Label) -> Label {
        let (mut t, mut f) = (jt, jf);
        loop {
            let h = self.here();
            let (dt, df) = (h - t, h - f);
            if dt <= 255 && df <= 255 {
                return self.push(insn(BPF_JMP | op | BPF_K, dt as u8, df as u8, k));
            }
            if df > 255 {
                f = self.ja(f);
            } else {
                t = self.ja(t);
            }
        }
    }

    /// The program in execution order.
    pub(crate) fn finish(mut self) -> Vec<sock_filter> {
        self.rev.reverse();
        self.rev
    }
}
