//! `postagram-operator`: `run` the controller, print the `crd`, or print the `manifests`
//! the operator would apply for a Postagram file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use kube::runtime::events::Reporter;
use kube::Client;
use tokio::sync::watch;
use tracing::{error, info, warn};

use postagram_core::settings::{env, log, shutdown, ListenArgs, LogArgs};
use postagram_operator::crd::{crd_yaml, Postagram};
use postagram_operator::desired::{Children, Owner};
use postagram_operator::leader::LeaderElector;
use postagram_operator::metrics::Metrics;
use postagram_operator::server::{self, Health};

/// Command line of the operator.
#[derive(Parser, Debug)]
#[command(name = "postagram-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the controller (in-cluster config or the current kubeconfig context).
    Run(RunArgs),
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Print, as a YAML stream, the children the operator would apply for a Postagram YAML
    /// file (namespace and uid are filled in when absent).
    Manifests {
        /// Path of a Postagram manifest.
        file: PathBuf,
    },
}

/// Options of `run`.
#[derive(Args, Debug)]
struct RunArgs {
    /// Address of /metrics, /healthz and /readyz.
    #[command(flatten)]
    listen: ListenArgs,
    /// Log format.
    #[command(flatten)]
    log: LogArgs,
    /// Hold a Lease before reconciling, so several replicas can run.
    #[arg(long)]
    leader_elect: bool,
    /// Name of the Lease.
    #[arg(long, default_value = "postagram-operator")]
    lease_name: String,
    /// Namespace of the Lease; the client's default namespace when absent.
    #[arg(long, env = env::POD_NAMESPACE)]
    lease_namespace: Option<String>,
    /// Seconds a leader holds the Lease without renewing it.
    #[arg(long, default_value_t = 15)]
    lease_duration_seconds: u64,
    /// Identity in the Lease and in Events; the pod name when set.
    #[arg(long, env = env::POD_NAME)]
    identity: Option<String>,
}

fn identity(args: &RunArgs) -> String {
    args.identity.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| format!("postagram-operator-{}", std::process::id()))
    })
}

/// Runs the operator: HTTP endpoints, leader election, the controller; returns the exit
/// reason once shut down.
async fn run(args: RunArgs) -> Result<(), String> {
    log::init(args.log.log_format);
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let client = Client::try_default()
        .await
        .map_err(|e| format!("kubernetes client: {e}"))?;
    let identity = identity(&args);
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

    let elector = if args.leader_elect {
        let ns = args
            .lease_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        let elector = LeaderElector::new(
            client.clone(),
            &ns,
            &args.lease_name,
            &identity,
            Duration::from_secs(args.lease_duration_seconds.max(5)),
        );
        info!(lease = %format!("{ns}/{}", args.lease_name), "waiting for leadership");
        loop {
            if *stop_rx.borrow() {
                let _ = http.await;
                return Ok(());
            }
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => warn!(error = %e, "lease request failed"),
            }
            let mut rx = stop_rx.clone();
            tokio::select! {
                _ = tokio::time::sleep(elector.renew_period()) => {},
                _ = rx.changed() => {},
            }
        }
        info!("leading");
        ready.store(false, Ordering::Relaxed);
        Some(elector)
    } else {
        None
    };

    // Renew the Lease; losing it stops the controller (and the process exits non-zero, so
    // the pod restarts as a standby).
    let lost = Arc::new(AtomicBool::new(false));
    if let Some(elector) = elector.clone() {
        let (stop_tx, lost) = (stop_tx.clone(), lost.clone());
        let lease_duration = Duration::from_secs(args.lease_duration_seconds.max(5));
        let mut rx = stop_rx.clone();
        tokio::spawn(async move {
            let mut last_renewal = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(elector.renew_period()) => {},
                    _ = rx.changed() => return,
                }
                match elector.try_acquire_or_renew().await {
                    Ok(true) => last_renewal = tokio::time::Instant::now(),
                    Ok(false) => {
                        error!("leadership taken by another replica");
                        break;
                    }
                    Err(e) => {
                        warn!(error = %e, "lease renewal failed");
                        if last_renewal.elapsed() < lease_duration {
                            continue;
                        }
                        error!("lease expired without renewal");
                        break;
                    }
                }
            }
            lost.store(true, Ordering::Relaxed);
            let _ = stop_tx.send(true);
        });
    }

    let reporter = Reporter {
        controller: "postagram-operator".into(),
        instance: Some(identity),
    };
    postagram_operator::controller::run(client, reporter, metrics, ready, stopped(stop_rx.clone()))
        .await;
    let _ = stop_tx.send(true);
    if let Some(elector) = elector {
        if !lost.load(Ordering::Relaxed) {
            match elector.release().await {
                Ok(()) => info!("lease released"),
                Err(e) => warn!(error = %e, "could not release the lease"),
            }
        }
    }
    let _ = http.await;
    if lost.load(Ordering::Relaxed) {
        return Err("lost leadership".into());
    }
    Ok(())
}

fn manifests(file: &PathBuf) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    // Through JSON: serde_yaml reads enums as YAML tags, Kubernetes writes them as maps.
    let value: serde_json::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut pg: Postagram =
        serde_json::from_value(value).map_err(|e| format!("{}: {e}", file.display()))?;
    pg.metadata
        .namespace
        .get_or_insert_with(|| "default".into());
    pg.metadata
        .uid
        .get_or_insert_with(|| "00000000-0000-0000-0000-000000000000".into());
    let owner = Owner::of(&pg).ok_or("the Postagram needs metadata.name")?;
    let children = Children::build(&owner, &pg.spec);
    let mut out = String::new();
    for m in children.manifests() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&m).map_err(|e| e.to_string())?);
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments the chart's Deployment passes must parse.
    #[test]
    fn chart_arguments_parse() {
        let cli = Cli::try_parse_from([
            "postagram-operator",
            "run",
            "--addr=0.0.0.0:8080",
            "--log-format=json",
            "--leader-elect",
            "--lease-name=postagram-operator",
            "--lease-namespace=ops",
            "--lease-duration-seconds=15",
        ])
        .expect("chart args");
        let Some(Command::Run(args)) = cli.command else {
            panic!("run expected");
        };
        assert!(args.leader_elect);
        assert_eq!(
            args.log.log_format,
            postagram_core::settings::LogFormat::Json
        );
        assert_eq!(args.lease_namespace.as_deref(), Some("ops"));
    }
}
