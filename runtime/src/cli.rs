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
    /// Run a process in a running container (not supported yet)
    #[command(hide = true)]
    Exec {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
    /// List a container's processes (not supported yet)
    #[command(hide = true)]
    Ps {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
    /// Freeze a container (not supported yet)
    #[command(hide = true)]
    Pause { id: String },
    /// Thaw a container (not supported yet)
    #[command(hide = true)]
    Resume { id: String },
    /// Container events and stats (not supported yet)
    #[command(hide = true)]
    Events {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
    /// Update resources (not supported yet)
    #[command(hide = true)]
    Update {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
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
