//! `postagram-labeler`: label pictures with the local EfficientNet-Lite0 model.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    postagram_labeler::cli::run(postagram_labeler::cli::Cli::parse())
}
