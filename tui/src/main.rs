//! `postagram`: the Postagram terminal client.

use postagram_core::settings::env;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use postagram_tui::config;
use postagram_tui::runtime::{self, RunOptions};

/// Browse, post and search Postagram from the terminal.
#[derive(Debug, Parser)]
#[command(name = "postagram", version, about)]
struct Cli {
    /// Server URL (kept in the config file for next time).
    #[arg(long, env = env::SERVER, global = true)]
    server: Option<String>,
    /// Config file (default: $XDG_CONFIG_HOME/postagram/config.toml).
    #[arg(long, env = env::CONFIG, global = true)]
    config: Option<PathBuf>,
    /// Account commands; without one the feed opens.
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Log in (or sign up) and keep the session in the config file.
    Login,
    /// Forget the stored session.
    Logout,
}

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    match real_main(cli, started) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postagram: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli, started: Instant) -> Result<(), Box<dyn std::error::Error>> {
    let path = match cli.config {
        Some(p) => p,
        None => config::default_path()?,
    };
    let mut cfg = config::load(&path)?;
    if let Some(server) = &cli.server {
        let before = cfg.clone();
        cfg.set_server(server);
        if cfg != before {
            config::save(&path, &cfg)?;
        }
    }
    match cli.command {
        Some(Cmd::Logout) => {
            let who = cfg.session.take().map(|s| s.username);
            config::save(&path, &cfg)?;
            match who {
                Some(u) => println!("Logged out {u} from {}.", cfg.server),
                None => println!("Not logged in to {}.", cfg.server),
            }
            Ok(())
        }
        cmd => {
            let login_only = matches!(cmd, Some(Cmd::Login));
            let opts = RunOptions {
                config: cfg.clone(),
                config_path: path,
                login_only,
                bench_out: std::env::var_os(env::TUI_BENCH_OUT).map(PathBuf::from),
                started,
            };
            // Few threads: the work is I/O and short picture jobs; every thread that
            // allocates gets its own malloc arena, which shows in the RSS.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(3)
                .enable_all()
                .build()?;
            let outcome = rt.block_on(runtime::run(opts))?;
            // Background tasks (uploads still running, the picker's stdin reader) must not
            // keep the process alive.
            rt.shutdown_timeout(std::time::Duration::from_millis(200));
            if login_only {
                match outcome.signed_in_as {
                    Some(u) => println!("Logged in as {u} on {}.", cfg.server),
                    None => println!("Not logged in."),
                }
            }
            Ok(())
        }
    }
}
