//! `postagram-operator`: `run` the controller (default), print the `crd`, or print the
//! `manifests` the operator would apply for a Postagram file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use postagram_operator::crd::{crd_yaml, Postagram};
use postagram_operator::desired::{Children, Owner};

/// Command line of the operator.
#[derive(Parser, Debug)]
#[command(name = "postagram-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Print, as a YAML stream, the children the operator would apply for a Postagram YAML
    /// file (namespace and uid are filled in when absent).
    Manifests {
        /// Path of a Postagram manifest.
        file: PathBuf,
    },
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
        None => Err("the controller is not wired yet".into()),
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
