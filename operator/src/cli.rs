//! Command line of the `postagram-operator` binary: `run` the controller, print the `crd`,
//! or print the `manifests` the operator would apply for a Postagram file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::crd::Postagram;
use crate::desired::{Children, Owner};
use postagram_core::settings::{env, ListenArgs, LogArgs};

/// Command line of the operator.
#[derive(Parser, Debug)]
#[command(name = "postagram-operator", version, about)]
pub struct Cli {
    /// What to do: `run`, `crd` or `manifests`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
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
pub struct RunArgs {
    /// Address of /metrics, /healthz and /readyz.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Log format.
    #[command(flatten)]
    pub log: LogArgs,
    /// Hold a Lease before reconciling, so several replicas can run.
    #[arg(long)]
    pub leader_elect: bool,
    /// Name of the Lease.
    #[arg(long, default_value = "postagram-operator")]
    pub lease_name: String,
    /// Namespace of the Lease; the client's default namespace when absent.
    #[arg(long, env = env::POD_NAMESPACE)]
    pub lease_namespace: Option<String>,
    /// Seconds a leader holds the Lease without renewing it.
    #[arg(long, default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// Identity in the Lease and in Events; the pod name when set.
    #[arg(long, env = env::POD_NAME)]
    pub identity: Option<String>,
}

impl RunArgs {
    /// Identity in the Lease and in Events: `--identity`, else the host name, else one
    /// made of the process id.
    pub fn identity(&self) -> String {
        self.identity.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| format!("postagram-operator-{}", std::process::id()))
        })
    }

    /// How long a leader holds the Lease without renewing it (at least 5 s).
    pub fn lease_duration(&self) -> Duration {
        Duration::from_secs(self.lease_duration_seconds.max(5))
    }
}

/// `manifests`: the YAML stream of the children the operator would apply for the
/// Postagram in `file` (namespace `default` and a zero uid when absent).
pub fn manifests(file: &Path) -> Result<String, String> {
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
