//! Arbitrary bytes as a seccomp profile: parse + compile must never panic, only return errors,
//! and whatever compiles must be a well-formed classic-BPF program (forward jumps inside the
//! program, loads inside seccomp_data, ends in `ret`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = hull_seccomp::parse_profile(text) else {
        return;
    };
    let Ok(c) = hull_seccomp::compile_with(&spec, &hull_seccomp::KernelSupport::all()) else {
        return;
    };
    let prog = c.program();
    assert!(!prog.is_empty() && prog.len() <= hull_seccomp::MAX_INSNS);
    assert_eq!(prog.len(), c.instruction_count());
    for (pc, i) in prog.iter().enumerate() {
        match i.code {
            0x20 => assert!(i.k % 4 == 0 && i.k < 64, "load offset {}", i.k), // ld [k]
            0x54 | 0x06 => {}                                                 // and k, ret k
            0x05 => assert!(pc + 1 + (i.k as usize) < prog.len(), "ja out of range"),
            0x15 | 0x25 | 0x35 => {
                assert!(pc + 1 + (i.jt as usize) < prog.len(), "jt out of range");
                assert!(pc + 1 + (i.jf as usize) < prog.len(), "jf out of range");
            }
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
    assert_eq!(prog.last().unwrap().code, 0x06, "ends in ret");
});
