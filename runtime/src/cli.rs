//! The runc-compatible command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "hull",
    version,
    about = "hull: a fast, runc-compatible OCI container runtime",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Root directory for container state
    #[arg(long, global = true, default_value = crate::container::state::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Log file (default: stderr)
    #[arg(long, global = true)]
    pub log: Option<String>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use the systemd cgroup driver (cgroupsPath as slice:prefix:name)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto
    #[arg(long, default_value = "auto", value_parser = ["true", "false", "auto"])]
    pub rootless: String,
    /// Accepted for runc compatibility; checkpointing is not supported
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args, Debug, Clone)]
pub struct CreateFlags {
    /// Path to the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Do not use pivot_root (MS_MOVE + chroot instead)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3 .. 3+N-1) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Container ID
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a container (its process waits for `start`)
    Create(CreateFlags),
    /// Start a created container
    Start { id: String },
    /// Create and start a container
    Run {
        #[command(flatten)]
        create: CreateFlags,
        /// Detach: return once the container runs
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the container after it exits
        #[arg(long)]
        keep: bool,
    },
    /// Print the state of a container as JSON
    State { id: String },
    /// Send a signal to a container's init (default SIGTERM)
    Kill {
        /// Signal every process of the container
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container
    Delete {
        /// Kill a running container first
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// List containers
    List {
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Print only the IDs
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Write a default config.json
    Spec {
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
        /// A spec for a rootless container
        #[arg(id = "spec_rootless", long = "rootless")]
        rootless: bool,
    },
    /// Print the features this runtime supports (runtime-spec features.md)
    Features,
    /// Run a process in a running container
    Exec(ExecFlags),
    /// List a container's processes (runs the host's ps; --format json prints the pids)
    Ps {
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        id: String,
        /// Options for ps (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Print a container's stats and OOM events as JSON, every --interval until it stops
    Events {
        /// Stats collection interval
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Print the stats once and exit
        #[arg(long)]
        stats: bool,
        id: String,
    },
    /// Update a container's resource limits
    Update(UpdateFlags),
    /// Checkpointing is not supported
    #[command(hide = true)]
    Checkpoint {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
    /// Restoring is not supported
    #[command(hide = true)]
    Restore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ExecFlags {
    /// AF_UNIX socket that receives the pty master (with --tty)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set an environment variable (KEY=VALUE); repeatable
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY (needs --console-socket)
    #[arg(short = 't', long)]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids; repeatable or comma-separated
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<String>,
    /// Path to a process.json (replaces the command and the other process flags)
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Detach: return once the process runs
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label for the process (ignored with a warning: no SELinux)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile for the process (ignored with a warning: no AppArmor)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privileges for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability (bounding, effective, permitted); repeatable
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Pass N extra fds (3 .. 3+N-1) to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Run the process in an existing sub-cgroup: [<controller>:]<path>; repeatable
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container (the process starts frozen)
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container ID
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UpdateFlags {
    /// File with a LinuxResources JSON, or '-' for stdin (the other flags are then ignored)
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (suffixes k, m, g allowed)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory + swap limit in bytes; -1 for unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit in bytes
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit (ignored with a warning: not supported by the kernel)
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit (cgroup v1)
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU CFS quota in microseconds per period (-1: no limit)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    pub cpu_period: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", allow_hyphen_values = true)]
    pub cpu_share: Option<String>,
    /// CPU realtime period in microseconds
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime runtime in microseconds
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs to use (e.g. 0-1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Block IO weight, 10 to 1000
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<String>,
    /// Intel RDT L3 cache schema (not supported: error)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported: error)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// Container ID
    pub id: String,
}
