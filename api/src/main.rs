//! The `postagram-api` binary.

use clap::Parser;
use postagram_api::config::{Cli, Command};
use postagram_api::openapi::ApiDoc;
use postagram_api::startup::{shutdown_signal, Application};
use postagram_api::telemetry;
use utoipa::OpenApi;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.config).await?;
            app.run_until(shutdown_signal()).await
        }
        Command::Openapi => {
            println!("{}", ApiDoc::openapi().to_pretty_json()?);
            Ok(())
        }
    }
}
