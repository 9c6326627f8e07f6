//! `postagram-operator`: `run` the controller (HTTP endpoints, leader election, the
//! controller), print the `crd`, or print the `manifests` for a Postagram file. The
//! command line is in `postagram_operator::cli`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use kube::runtime::events::Reporter;
use kube::Client;
use tokio::sync::watch;
use tracing::info;

use postagram_core::settings::{log, shutdown};
use postagram_operator::cli::{manifests, Cli, Command, RunArgs};
use postagram_operator::crd::crd_yaml;
use postagram_operator::leader::LeaderElector;
use postagram_operator::metrics::Metrics;
use postagram_operator::server::{self, Health};

/// Runs the operator: HTTP endpoints, leader election, the controller; returns the exit
/// reason once shut down.
async fn run(args: RunArgs) -> Result<(), String> {
    log::init(args.log.log_format);
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let client = Client::try_default()
        .await
        .map_err(|e| format!("kubernetes client: {e}"))?;
    let identity = args.identity();
    // Standby replicas report ready: they serve metrics, and a rolling update must be able
    // to start the new pod while the old one still holds the Lease.
    let ready = Arc::new(AtomicBool::new(args.leader_elect));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let health = Health {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let http = tokio::spawn(server::serve(
        args.listen.addr,
        health,
        stopped(stop_rx.clone()),
    ));
    info!(addr = %args.listen.addr, %identity, "postagram-operator starting");

    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown::signal().await;
            info!("shutdown requested");
            let _ = stop_tx.send(true);
        });
    }

    let leadership = if args.leader_elect {
        let ns = args
            .lease_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        let elector = LeaderElector::new(
            client.clone(),
            &ns,
            &args.lease_name,
            &identity,
            args.lease_duration(),
        );
        info!(lease = %format!("{ns}/{}", args.lease_name), "waiting for leadership");
        if !elector.acquire(&stop_rx).await {
            let _ = http.await;
            return Ok(());
        }
        info!("leading");
        ready.store(false, Ordering::Relaxed);
        Some(elector.keep(stop_tx.clone(), stop_rx.clone()))
    } else {
        None
    };

    let reporter = Reporter {
        controller: "postagram-operator".into(),
        instance: Some(identity),
    };
    postagram_operator::controller::run(client, reporter, metrics, ready, stopped(stop_rx.clone()))
        .await;
    let _ = stop_tx.send(true);
    if let Some(leadership) = &leadership {
        leadership.release().await;
    }
    let _ = http.await;
    if leadership.is_some_and(|l| l.lost()) {
        return Err("lost leadership".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Crd) => crd_yaml().map_err(|e| e.to_string()),
        Some(Command::Manifests { file }) => manifests(&file),
        Some(Command::Run(args)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(run(args)).map(|()| String::new()),
                Err(e) => Err(format!("tokio runtime: {e}")),
            }
        }
        None => Err("a command is needed: run, crd or manifests (see --help)".into()),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("postagram-operator: {e}");
            ExitCode::FAILURE
        }
    }
}
