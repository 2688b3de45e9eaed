//! hull: a fast, runc-compatible OCI container runtime, as a library under a thin CLI.
//! Layers, top down: `cli` → `container` (one file per verb, the state dir) → `spawn` (creates
//! the container processes) → `rootfs`, `process`, `sched`, `hooks` (its steps). See docs/architecture.md.

pub mod cli;
pub mod container;
pub mod criu;
pub mod error;
pub mod failpoint;
pub mod guard;
pub mod hooks;
pub mod logging;
pub mod process;
pub mod rootfs;
pub mod rootless;
pub mod sched;
pub mod spawn;
pub mod spec;
pub mod specgen;
pub mod sys;
