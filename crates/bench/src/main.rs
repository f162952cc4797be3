//! `cosmonaut-bench`: a load generator for Cosmos DB-compatible endpoints.
//!
//! `run` drives one endpoint (or two, side by side, printing ratios) over
//! the REST protocol with N concurrent clients and reports throughput and
//! p50/p99/p99.9 latency per workload. `footprint` starts a `cosmonaut`
//! binary and measures start-to-ready time, idle and loaded memory, and disk
//! use per item. `disk` times the log syncs the disk allows, and `ceiling`
//! serves canned replies, to measure what the machine allows.

mod ceiling;
mod client;
mod connection;
mod disk;
mod footprint;
mod report;
mod run;
mod workload;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The load generator shares the machine with the server it measures, so its
/// own allocations should cost as little as the server's (see the server's allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The emulators' well-known key.
pub const WELL_KNOWN_KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

#[derive(Parser)]
#[command(
    name = "cosmonaut-bench",
    version,
    about = "Load generator for Cosmos DB-compatible endpoints"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive an endpoint (or two, side by side) with workloads.
    Run(run::RunArgs),
    /// Start a cosmonaut binary; measure start-to-ready, memory and disk per item.
    Footprint(footprint::FootprintArgs),
    /// Time write + fdatasync on a disk, appending and overwriting.
    Disk(disk::DiskArgs),
    /// Serve a canned reply to every request: `run` against it measures
    /// what the machine allows with no database behind the endpoint.
    Ceiling(ceiling::CeilingArgs),
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cosmonaut-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match Cli::parse().command {
            Command::Run(args) => run::run(args).await,
            Command::Footprint(args) => footprint::run(args).await,
            Command::Disk(args) => disk::run(args),
            Command::Ceiling(args) => ceiling::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cosmonaut-bench: {message}");
            ExitCode::FAILURE
        }
    }
}
