//! Test-only daemon: the real agent (socket, store, metrics) with a fixed prefix and no kernel
//! changes (it only writes the conflist). Exists so tests can `kill -9` a real agent process;
//! not meant for nodes (use `sixfold agent`).
//!
//! `sixfold-agent-testd --prefix 2001:db8:0:1:abcd::/80 --node-ipv4 10.0.1.7 --instance-id i-test
//!  --data-dir D --socket S --cni-conf-dir C --metrics-addr 127.0.0.1:0`
use std::net::Ipv4Addr;
use std::process::ExitCode;

use agent::{AgentConfig, ConflistOnly, ConflistSettings, NodeFacts, StaticPrefix};
use clap::Parser;
use ipnet::Ipv6Net;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    agent: AgentConfig,
    /// The node's /80.
    #[arg(long)]
    prefix: Ipv6Net,
    /// The node's primary IPv4.
    #[arg(long)]
    node_ipv4: Ipv4Addr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let facts = NodeFacts {
        prefix: cli.prefix,
        node_ipv4: cli.node_ipv4,
        node_ipv6: None,
        eni_id: None,
    };
    let host = ConflistOnly(ConflistSettings::from_config(&cli.agent));
    match agent::start(&cli.agent, &StaticPrefix(facts), &host) {
        Ok(running) => {
            println!("ready {}", running.metrics_addr());
            running.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sixfold-agent-testd: {e}");
            ExitCode::FAILURE
        }
    }
}
