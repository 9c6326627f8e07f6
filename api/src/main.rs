//! The `postagram-api` binary.

use clap::Parser;
use postagram_api::config::{AdminCommand, Cli, Command};
use postagram_api::startup::Application;
use postagram_core::settings::{log, shutdown};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    log::init(cli.config.log.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.config).await?;
            app.run_until(shutdown::signal()).await
        }
        Command::Admin(AdminCommand::InitAws {
            queue_name,
            max_receive_count,
        }) => init_aws(&cli.config, &queue_name, max_receive_count).await,
        Command::Openapi => {
            let (_, doc) = postagram_api::routes::table(cli.config.max_upload_bytes).split();
            println!("{}", doc.to_pretty_json()?);
            Ok(())
        }
    }
}

#[cfg(feature = "aws")]
async fn init_aws(
    config: &postagram_api::config::Config,
    queue: &str,
    max_receive_count: u32,
) -> anyhow::Result<()> {
    let report = postagram_api::aws::init(config, queue, max_receive_count).await?;
    println!("{report}");
    Ok(())
}

#[cfg(not(feature = "aws"))]
async fn init_aws(
    _config: &postagram_api::config::Config,
    _queue: &str,
    _max_receive_count: u32,
) -> anyhow::Result<()> {
    anyhow::bail!("this postagram-api was built without the `aws` feature; rebuild with `cargo build -p postagram-api --features aws`")
}
