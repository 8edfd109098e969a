//! Listeners: a port and protocol on a load balancer whose default action forwards to one target
//! group. The address-family rules meet here: an ipv6 target group needs a dualstack load
//! balancer, and on a network load balancer a TCP or TLS listener.

use super::model::{LbIpType, LbType, Listener, MAX_LISTENERS, Protocol, Tags, TgIpType};
use super::{ElbError, hex_id, page, tags::check_tags};
use crate::Env;
use crate::state::State;

/// A `CreateListener` request, its enums already parsed.
#[derive(Debug, Clone)]
pub struct CreateListener {
    /// `LoadBalancerArn`.
    pub load_balancer_arn: String,
    /// `Protocol` (default HTTP for an application load balancer, TCP for a network one).
    pub protocol: Option<Protocol>,
    /// `Port` (required).
    pub port: Option<u16>,
    /// `Certificates.member.1.CertificateArn` (HTTPS and TLS listeners).
    pub certificate_arn: Option<String>,
    /// The target group of the one `forward` default action.
    pub target_group_arn: String,
    /// Tags.
    pub tags: Tags,
}

/// Whether a listener speaking `l` may forward to a target group speaking `t`.
fn compatible(lb: LbType, l: Protocol, t: Protocol) -> bool {
    match lb {
        LbType::Application => matches!(t, Protocol::Http | Protocol::Https),
        LbType::Network => match l {
            Protocol::Tcp => matches!(t, Protocol::Tcp | Protocol::TcpUdp),
            Protocol::Tls => matches!(t, Protocol::Tcp | Protocol::Tls),
            Protocol::Udp => matches!(t, Protocol::Udp | Protocol::TcpUdp),
            Protocol::TcpUdp => t == Protocol::TcpUdp,
            Protocol::Http | Protocol::Https => false,
        },
    }
}

impl State {
    /// CreateListener: checks the port, protocol and target group against the load balancer, then stores the listener.
    pub fn create_listener(
        &mut self,
        env: &mut Env,
        req: CreateListener,
    ) -> Result<Listener, ElbError> {
        check_tags(&req.tags)?;
        let lb = self.load_balancer(&req.load_balancer_arn)?.clone();
        let protocol = req.protocol.unwrap_or(match lb.lb_type {
            LbType::Application => Protocol::Http,
            LbType::Network => Protocol::Tcp,
        });
        if !protocol.fits(lb.lb_type) {
            return Err(ElbError::UnsupportedProtocol {
                message: format!(
                    "A {} load balancer does not listen on {protocol}; use {}.",
                    lb.lb_type,
                    Protocol::ALL
                        .iter()
                        .filter(|p| p.fits(lb.lb_type))
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let port = req.port.ok_or_else(|| ElbError::missing("Port"))?;
        if port == 0 {
            return Err(ElbError::invalid(
                "Port",
                port,
                "Give a port from 1 to 65535.",
            ));
        }
        if matches!(protocol, Protocol::Https | Protocol::Tls) && req.certificate_arn.is_none() {
            return Err(ElbError::validation(format!(
                "A {protocol} listener needs a certificate; pass --certificates CertificateArn=arn:aws:acm:...",
            )));
        }
        let mine: Vec<&Listener> = self
            .elb_listeners
            .values()
            .filter(|l| l.load_balancer_arn == lb.arn)
            .collect();
        if mine.iter().any(|l| l.port == port) {
            return Err(ElbError::DuplicateListener {
                lb: lb.name.clone(),
                port,
            });
        }
        if mine.len() >= MAX_LISTENERS {
            return Err(ElbError::TooMany {
                code: "TooManyListeners",
                what: format!("Another listener on load balancer '{}'", lb.name),
                limit: MAX_LISTENERS,
                fix: "delete one first.",
            });
        }
        let tg = self.target_group(&req.target_group_arn)?.clone();
        if tg.vpc_id != lb.vpc_id {
            return Err(ElbError::config(format!(
                "Target group '{}' is in VPC '{}' but load balancer '{}' is in '{}'; forward to a target group of the load balancer's VPC.",
                tg.name, tg.vpc_id, lb.name, lb.vpc_id
            )));
        }
        if !compatible(lb.lb_type, protocol, tg.protocol) {
            return Err(ElbError::IncompatibleProtocols {
                message: format!(
                    "A {protocol} listener of a {} load balancer cannot forward to target group '{}', whose protocol is {}; create a target group with a matching protocol.",
                    lb.lb_type, tg.name, tg.protocol
                ),
            });
        }
        if tg.ip_address_type == TgIpType::Ipv6 {
            if lb.ip_address_type != LbIpType::Dualstack {
                return Err(ElbError::config(format!(
                    "Target group '{}' has IP address type ipv6 but load balancer '{}' is ipv4; IPv6 target groups work only with dualstack load balancers. Fix: `aws elbv2 set-ip-address-type --load-balancer-arn {} --ip-address-type dualstack`.",
                    tg.name, lb.name, lb.arn
                )));
            }
            if lb.lb_type == LbType::Network && !matches!(protocol, Protocol::Tcp | Protocol::Tls) {
                return Err(ElbError::IncompatibleProtocols {
                    message: format!(
                        "Target group '{}' has IP address type ipv6; a network load balancer forwards to IPv6 targets on TCP and TLS listeners only, not {protocol}. Use --protocol TCP or TLS.",
                        tg.name
                    ),
                });
            }
        }
        let lb_id = lb.arn.rsplit('/').next().unwrap_or_default();
        let id = hex_id(env.rng);
        let arn = super::arn(
            env,
            &format!(
                "listener/{}/{}/{lb_id}/{id}",
                lb.lb_type.arn_segment(),
                lb.name,
            ),
        );
        let l = Listener {
            arn: arn.clone(),
            load_balancer_arn: lb.arn,
            port,
            protocol,
            certificate_arn: req.certificate_arn,
            target_group_arn: tg.arn,
            tags: req.tags,
        };
        self.elb_listeners.insert(arn, l.clone());
        Ok(l)
    }

    /// `DescribeListeners`: those of one load balancer, or those named by ARN.
    pub fn describe_listeners(
        &self,
        load_balancer: Option<&str>,
        arns: &[String],
        marker: Option<&str>,
        page_size: Option<usize>,
    ) -> Result<(Vec<Listener>, Option<String>), ElbError> {
        match (load_balancer, arns.is_empty()) {
            (None, true) => {
                return Err(ElbError::validation(
                    "Give a load balancer ARN or listener ARNs (--load-balancer-arn or --listener-arns).",
                ));
            }
            (Some(_), false) => {
                return Err(ElbError::validation(
                    "Give a load balancer ARN or listener ARNs, not both.",
                ));
            }
            (Some(lb), true) => {
                self.load_balancer(lb)?;
            }
            (None, false) => {
                for a in arns {
                    if !self.elb_listeners.contains(a) {
                        return Err(ElbError::ListenerNotFound(a.clone()));
                    }
                }
            }
        }
        let items = self
            .elb_listeners
            .iter()
            .filter(|(k, l)| {
                load_balancer.is_none_or(|lb| l.load_balancer_arn == lb)
                    && (arns.is_empty() || arns.contains(k))
            })
            .map(|(k, l)| (k.clone(), l.clone()))
            .collect();
        page(items, marker, page_size)
    }

    /// DeleteListener: removes the listener, or `ListenerNotFound`.
    pub fn delete_listener(&mut self, arn: &str) -> Result<(), ElbError> {
        self.elb_listeners
            .remove(arn)
            .map(|_| ())
            .ok_or_else(|| ElbError::ListenerNotFound(arn.to_string()))
    }
}
