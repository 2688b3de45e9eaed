//! hull: a fast, runc-compatible OCI container runtime.

pub mod cli;
pub mod container;
pub mod criu;
pub mod error;
pub mod hooks;
pub mod logging;
pub mod process;
pub mod rootfs;
pub mod sched;
pub mod spawn;
pub mod spec;
pub mod specgen;
pub mod sys;
