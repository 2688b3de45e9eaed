//! containerd-shim-hull-v2: not implemented yet.
//!
//! The shim is scheduled after the runtime (see README "What does not work yet").
//! Until then it refuses clearly instead of pretending to work.

fn main() {
    eprintln!(
        "containerd-shim-hull-v2: not supported yet; use containerd's runc shim with \
         `--runc-binary /path/to/hull` (see README)"
    );
    std::process::exit(1);
}
