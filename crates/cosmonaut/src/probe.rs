//! `cosmonaut health`: asks a running server whether it is ready, for
//! container health checks that have no HTTP client of their own.

use std::time::Duration;

#[derive(clap::Args)]
pub struct HealthArgs {
    /// The readiness endpoint to ask.
    #[arg(
        long,
        env = "COSMONAUT_HEALTH_URL",
        default_value = "https://localhost:8081/health/ready"
    )]
    url: String,
    /// How long to wait for the answer.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

pub fn run(args: &HealthArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        // The server's certificate is usually its own self-signed one; the
        // probe asks about readiness, which carries no data.
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(args.timeout)
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        let response = client
            .get(&args.url)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", args.url))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            crate::serve::say(body.trim());
            Ok(())
        } else {
            Err(format!("{}: {status} {}", args.url, body.trim()))
        }
    })
}
