//! Compile time and size of the engine default profile.
//! `cargo run -p hull-seccomp --release --example compile_bench [PROFILE] [ITERATIONS]`
//! `... --example compile_bench -- --oci [PROFILE]` prints the engine profile converted to OCI
//! `linux.seccomp` (podman's default caps, this arch) for use in a config.json.
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--oci") {
        args.next();
        let path = args
            .next()
            .unwrap_or_else(|| "/usr/share/containers/seccomp.json".into());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let spec =
            hull_seccomp::engine::to_oci(&text, hull_seccomp::engine::PODMAN_DEFAULT_CAPS).unwrap();
        println!("{}", serde_json::to_string(&spec).unwrap());
        return;
    }
    let path = args
        .next()
        .unwrap_or_else(|| "/usr/share/containers/seccomp.json".into());
    let iterations: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let spec = hull_seccomp::engine::to_oci(&text, hull_seccomp::engine::PODMAN_DEFAULT_CAPS)
        .expect("profile converts");
    let json = serde_json::to_string(&spec).unwrap();
    // First compile includes the one-time kernel probe.
    let t = Instant::now();
    let c = hull_seccomp::compile(&spec).expect("compiles");
    let first = t.elapsed();
    let t = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(hull_seccomp::compile(std::hint::black_box(&spec)).unwrap());
    }
    let compile = t.elapsed() / iterations;
    let t = Instant::now();
    for _ in 0..iterations {
        let s = hull_seccomp::parse_profile(std::hint::black_box(&json)).unwrap();
        std::hint::black_box(hull_seccomp::compile(&s).unwrap());
    }
    let parse_compile = t.elapsed() / iterations;
    let install = install_time(&c);
    let names: usize = spec
        .syscalls()
        .iter()
        .flatten()
        .map(|s| s.names().len())
        .sum();
    println!(
        "profile: {path} ({} rules, {names} names, arches {:?})",
        spec.syscalls().as_ref().map_or(0, |s| s.len()),
        spec.architectures().as_ref().map(|a| a.len())
    );
    println!("instructions: {}", c.instruction_count());
    println!("warnings: {}", c.warnings().len());
    println!("first compile (with kernel probe): {first:?}");
    println!("compile (mean of {iterations}): {compile:?}");
    println!("parse JSON + compile: {parse_compile:?}");
    println!("install in a forked child (seccomp(2) incl. kernel checks): {install:?}");
}

/// Fork a child that sets no_new_privs, installs the filter and reports how long install() took.
fn install_time(c: &hull_seccomp::Compiled) -> std::time::Duration {
    let mut fds = [0; 2];
    // SAFETY: pipe() fills two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only calls prctl, install() (no allocation), write and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: plain syscalls in the child.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        let t = Instant::now();
        let ok = c.install().is_ok();
        let ns: u64 = if ok {
            t.elapsed().as_nanos() as u64
        } else {
            u64::MAX
        };
        // SAFETY: write 8 bytes to the pipe and leave.
        unsafe {
            libc::write(fds[1], (&ns as *const u64).cast(), 8);
            libc::_exit(0);
        }
    }
    let mut ns = 0u64;
    // SAFETY: read 8 bytes from the pipe, reap the child.
    unsafe {
        libc::read(fds[0], (&mut ns as *mut u64).cast(), 8);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    assert_ne!(ns, u64::MAX, "install failed");
    std::time::Duration::from_nanos(ns)
}
