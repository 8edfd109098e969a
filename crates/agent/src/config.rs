//! The agent's configuration: one struct, usable directly or flattened into a clap command
//! (`#[command(flatten)] agent: AgentConfig`). Defaults match the reference node layout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Default metrics/introspection listener: loopback only.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:61678";
/// Default agent data dir (holds `agent.redb` and the egress plugin's IPAM dir).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/sixfold/agent";
/// Default CNI configuration dir.
pub const DEFAULT_CNI_CONF_DIR: &str = "/etc/cni/net.d";
/// Default CNI network name.
pub const DEFAULT_NETWORK_NAME: &str = "sixfold";
/// Default pod MTU (EC2 jumbo frames, as the reference plugin uses).
pub const DEFAULT_MTU: u32 = 9001;
/// Default bound on the requests committed together (see [`AgentConfig::max_batch`]): the
/// socket's connection limit, so a burst that fits the socket is never split into more
/// commits, each an fsync every later request waits for (measured by `bench/agent-burst.sh`:
/// with 64, a 250-request burst's ADD p99 was about twice as long).
pub const DEFAULT_MAX_BATCH: u32 = 256;

/// Everything `sixfold agent` needs. See [`crate::run`].
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct AgentConfig {
    /// EC2 endpoint URL (e.g. http://127.0.0.1:4566 for the embedded region). Default:
    /// https://ec2.<region>.amazonaws.com.
    #[arg(long, env = "SIXFOLD_EC2_ENDPOINT")]
    pub ec2_endpoint: Option<String>,
    /// STS endpoint URL for web identity (IRSA) credentials. Default: --ec2-endpoint when given
    /// (sixfold's region serves both), else AWS_ENDPOINT_URL, else https://sts.<region>.amazonaws.com.
    #[arg(long, env = "AWS_ENDPOINT_URL_STS")]
    pub sts_endpoint: Option<String>,
    /// Region name used for signing. Default: the instance's region from IMDS
    /// (placement/region), else us-east-1.
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Shared credentials file: when given, the agent uses only its --profile. Default: the
    /// credential chain (environment, web identity, ~/.aws/credentials, instance profile).
    #[arg(long, env = "AWS_SHARED_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Profile inside the credentials file.
    #[arg(long, env = "AWS_PROFILE", default_value = "default")]
    pub profile: String,
    /// This node's EC2 instance id (i-...). Default: read from the instance metadata service
    /// (IMDSv2 at http://169.254.169.254).
    #[arg(long)]
    pub instance_id: Option<String>,
    /// Where the agent keeps its durable state.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Unix socket the CNI plugins talk to.
    #[arg(long, default_value = agent_api::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Permissions of the socket: 0600 (root only) or 0660 (root and the socket's group).
    #[arg(long, default_value = "0600")]
    pub socket_mode: SocketMode,
    /// Where the CNI conflist is written.
    #[arg(long, default_value = DEFAULT_CNI_CONF_DIR)]
    pub cni_conf_dir: PathBuf,
    /// CNI network name (the conflist's `name`).
    #[arg(long, default_value = DEFAULT_NETWORK_NAME)]
    pub network_name: String,
    /// How long a released pod address waits before reuse (e.g. 30s, 500ms, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub cooldown: Duration,
    /// Metrics and introspection listener (GET /metrics, GET /v1/status). Port 0 picks one.
    #[arg(long, default_value = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: SocketAddr,
    /// SNAT pod IPv4 egress with fully random ports.
    #[arg(long)]
    pub random_fully: bool,
    /// MTU of pod interfaces.
    #[arg(long, default_value_t = DEFAULT_MTU)]
    pub mtu: u32,
    /// Most plugin requests made durable together, in one store transaction and one fsync
    /// (group commit); the requests that arrive while a batch commits form the next one. 1
    /// commits every request on its own (one fsync each).
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_batch: u32,
}

impl AgentConfig {
    /// The defaults above for `instance_id` (the clap defaults, without the environment).
    pub fn new(instance_id: impl Into<String>) -> Self {
        Self {
            ec2_endpoint: None,
            sts_endpoint: None,
            region: None,
            credentials_file: None,
            profile: "default".into(),
            instance_id: Some(instance_id.into()),
            data_dir: DEFAULT_DATA_DIR.into(),
            socket: agent_api::DEFAULT_SOCKET.into(),
            socket_mode: SocketMode::OWNER,
            cni_conf_dir: DEFAULT_CNI_CONF_DIR.into(),
            network_name: DEFAULT_NETWORK_NAME.into(),
            cooldown: Duration::from_secs(30),
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 61678)),
            random_fully: false,
            mtu: DEFAULT_MTU,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }

    /// The durable store's path.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join(crate::store::STORE_FILE)
    }

    /// The host-local IPAM data dir of the chained egress plugin.
    pub fn egress_ipam_data_dir(&self) -> PathBuf {
        self.data_dir.join("egress-ipam")
    }
}

/// Permissions of the agent socket: only `0600` and `0660` are allowed (the socket hands out
/// addresses, so never world-accessible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketMode(u32);

impl SocketMode {
    /// `0600`: root only.
    pub const OWNER: SocketMode = SocketMode(0o600);
    /// `0660`: root and the socket's group.
    pub const GROUP: SocketMode = SocketMode(0o660);

    /// The mode bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for SocketMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

/// A rejected configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("socket mode {0:?} is not allowed: use 0600 (root only) or 0660 (root and group)")]
    SocketMode(String),
    #[error("duration {0:?} is not understood: write e.g. 30s, 500ms or 2m")]
    Duration(String),
}

impl FromStr for SocketMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.trim_start_matches("0o");
        match u32::from_str_radix(digits, 8) {
            Ok(0o600) => Ok(SocketMode::OWNER),
            Ok(0o660) => Ok(SocketMode::GROUP),
            _ => Err(ConfigError::SocketMode(s.to_owned())),
        }
    }
}

/// Parse `30s`, `500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let bad = || ConfigError::Duration(s.to_owned());
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs).ok_or_else(bad),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        agent: AgentConfig,
    }

    #[test]
    fn clap_defaults_match_new() {
        // Only check fields that do not come from the environment.
        let mut parsed = Cli::parse_from(["x", "--instance-id", "i-0123"]).agent;
        let want = AgentConfig::new("i-0123");
        parsed.ec2_endpoint = None;
        parsed.sts_endpoint = None;
        parsed.region = want.region.clone();
        parsed.credentials_file = None;
        parsed.profile = want.profile.clone();
        assert_eq!(parsed, want);
    }

    #[test]
    fn socket_mode_allows_only_0600_and_0660() {
        assert_eq!("0600".parse::<SocketMode>().unwrap(), SocketMode::OWNER);
        assert_eq!("660".parse::<SocketMode>().unwrap(), SocketMode::GROUP);
        let err = "0666".parse::<SocketMode>().unwrap_err();
        assert!(err.to_string().contains("0666"), "{err}");
        assert_eq!(SocketMode::GROUP.to_string(), "0660");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("s").is_err());
    }
}
