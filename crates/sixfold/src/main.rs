//! `sixfold`: one binary, thin over the libraries. Each subcommand parses its flags, builds a
//! context and calls one library function; errors become one readable message and exit code.

mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sixfold",
    version,
    about = "IPv6 networking for Kubernetes, the way Amazon EKS does it",
    long_about = "sixfold gives a Kubernetes cluster IPv6 addresses for its nodes, pods and services, \
following the design Amazon EKS uses for IPv6 clusters.\n\n\
  sixfold serve    run a region: VPC/EC2/EKS over the real AWS APIs (the AWS CLI talks to it)\n\n\
Run `sixfold <command> --help` for the flags of each command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the region server: EC2 Query API on one loopback port, state under --data-dir.
    Serve(serve::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIXFOLD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(a) => serve::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sixfold: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
