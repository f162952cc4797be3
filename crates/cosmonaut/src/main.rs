//! `cosmonaut`: the server and its tools.

mod aad;
mod backup;
mod connections;
mod keys;
mod reload;
mod serve;
mod tls;

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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COSMONAUT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve(args) => serve::run(*args),
        Command::Restore(args) => backup::run_restore(args),
        Command::Keys { command } => keys::run(command),
        Command::Rbac { command } => aad::run(command),
        Command::Backup {
            command: BackupCommand::List { from },
        } => backup::run_list(&from),
        Command::Cert {
            command: CertCommand::Export { data_dir, out },
        } => tls::export(&data_dir, out.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cosmonaut: {message}");
            ExitCode::FAILURE
        }
    }
}
