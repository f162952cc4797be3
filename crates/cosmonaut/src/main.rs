//! `cosmonaut`: the server and its tools.

/// Prints a line of a subcommand's output. A reader that went away (`keys
/// list | head`) ends the command quietly instead of with a panic, as Unix
/// tools do.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

mod aad;
mod backup;
mod connections;
mod dev_issuer;
mod files;
mod keys;
mod lock;
mod migrate;
mod mongo;
mod observe;
mod probe;
mod reload;
mod serve;
mod shared_files;
mod store;
mod tls;
mod traces;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// glibc's allocator showed up as a fifth of the CPU of a point read (many
/// small, short-lived allocations across threads); mimalloc's thread-local
/// free lists serve that pattern far more cheaply.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The key of the official Cosmos DB emulator. Samples and SDK test suites
/// use it, so it is the default; set your own with --key for anything shared.
pub const WELL_KNOWN_KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

#[derive(Parser)]
#[command(
    name = "cosmonaut",
    version,
    about = "An Azure Cosmos DB-compatible database in one binary"
)]
struct Cli {
    /// How log lines are written to stderr.
    #[arg(
        long,
        global = true,
        env = "COSMONAUT_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: observe::LogFormat,
    /// Export a trace span per request to this OpenTelemetry collector
    /// (OTLP over HTTP, JSON; e.g. http://collector:4318). Each trace id is
    /// the request's activity id.
    #[arg(long, global = true, env = "COSMONAUT_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Cosmos DB REST API.
    Serve(Box<serve::ServeArgs>),
    /// Restore a data dir from a backup location, to its newest state or a point in time.
    Restore(backup::RestoreArgs),
    /// Inspect a backup location.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Show or rotate the account keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Manage Entra ID role definitions and assignments.
    Rbac {
        #[command(subcommand)]
        command: aad::RbacCommand,
    },
    /// Manage the TLS certificate.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Copy an account between a data dir and PostgreSQL, either way
    /// (resumable, verified at the end).
    Migrate(migrate::MigrateArgs),
    /// Exit 0 when a server answers ready at /health/ready (for container
    /// health checks), 1 otherwise.
    Health(probe::HealthArgs),
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Show the generations (writer epochs), snapshots and log a location holds.
    List {
        /// The backup location (file://, az://, s3://).
        #[arg(long)]
        from: String,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Write the server's certificate (PEM) to a file or stdout, to trust it in clients.
    Export {
        #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        /// File to write; stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub(crate) fn print_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(err) = written {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("cosmonaut: cannot write the output: {err}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let traces = match observe::init_logging(cli.log_format, cli.otlp_endpoint.as_deref()) {
        Ok(traces) => traces,
        Err(message) => {
            eprintln!("cosmonaut: {message}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args, cli.otlp_endpoint.is_some()),
        Command::Restore(args) => backup::run_restore(args),
        Command::Keys { command } => keys::run(command),
        Command::Rbac { command } => aad::run(command),
        Command::Backup {
            command: BackupCommand::List { from },
        } => backup::run_list(&from),
        Command::Cert {
            command: CertCommand::Export { data_dir, out },
        } => tls::export(&data_dir, out.as_deref()),
        Command::Health(args) => probe::run(&args),
        Command::Migrate(args) => migrate::run(args),
    };
    if let Some(traces) = traces {
        traces.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cosmonaut: {message}");
            ExitCode::FAILURE
        }
    }
}
