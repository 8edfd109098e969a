//! Benchmark (printed, never asserted): one page of `DescribeNetworkInterfaces` (and a lookup by
//! `attachment.instance-id`) in a region of 100 instances against one of 10,000, measured in the
//! same run through the whole EC2 handler (parameters, paging, rendering). A page reads only its
//! own rows and the lookup goes through the in-memory index, so the ratios should stay near 1.
//!
//! Run: `cargo bench -p region-api --bench pages` (or `bench/pages.sh`).

use std::time::{Duration, Instant};

use region::ec2::instances::RunInstances;
use region::ec2::subnets::CreateSubnet;
use region::ec2::vpc::CreateVpc;
use region::{Region, RegionConfig};
use region_api::ec2;
use region_api::query::Params;

const KEY: &[u8] = b"bench-key";

fn region_with(instances: usize) -> (Region, Vec<String>) {
    let region = Region::open(
        RegionConfig {
            name: "us-east-1".into(),
            account_id: "123456789012".into(),
        },
        Box::new(region::store::MemStore::default()),
        Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7)),
        Box::new(|| 1_796_016_248),
    )
    .expect("open");
    let subnet = region
        .write(|s, env| {
            let block: addressing::cidr::Ipv4Cidr = "10.0.0.0/16".parse().expect("a CIDR");
            let vpc = s.create_vpc(env, CreateVpc::new(block))?;
            s.create_subnet(
                env,
                CreateSubnet::new(
                    region::ids::VpcId::parse(&vpc.id).expect("a generated id"),
                    region::ec2::subnets::SubnetBlocks::Ipv4(block),
                ),
            )
        })
        .expect("network");
    let mut ids = Vec::new();
    while ids.len() < instances {
        let n = (instances - ids.len()).min(100) as u32;
        let r = region
            .write(|s, env| {
                s.run_instances(
                    env,
                    RunInstances::new(
                        "ami-0123456789abcdef0",
                        "m5.large",
                        n,
                        region::ids::SubnetId::parse(&subnet.id).expect("a generated id"),
                    ),
                )
            })
            .expect("run");
        ids.extend(r.instances.into_iter().map(|i| i.id));
    }
    (region, ids)
}

/// Median time of `f` over `reps` runs.
fn median(reps: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    t[reps / 2]
}

fn call(region: &Region, body: &str) -> String {
    let r = ec2::handle(region, KEY, &Params::parse(body.as_bytes()), "bench");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

struct Figures {
    first: Duration,
    middle: Duration,
    lookup: Duration,
}

fn measure(instances: usize) -> Figures {
    let (region, ids) = region_with(instances);
    let page = "Action=DescribeNetworkInterfaces&Version=2016-11-15&MaxResults=50";
    // A token from the middle of the table: page through to it once.
    let mut token = String::new();
    for _ in 0..(instances / 50 / 2) {
        let body = call(&region, &format!("{page}{token}"));
        let t = body
            .split_once("<nextToken>")
            .and_then(|(_, r)| r.split_once("</nextToken>"))
            .map(|(t, _)| t.to_string())
            .expect("more pages");
        token = format!("&NextToken={t}");
    }
    let reps = 200;
    let first = median(reps, || {
        call(&region, page);
    });
    let middle = median(reps, || {
        call(&region, &format!("{page}{token}"));
    });
    let target = &ids[ids.len() / 2];
    let lookup = median(reps, || {
        let b = call(
            &region,
            &format!(
                "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=attachment.instance-id&Filter.1.Value.1={target}"
            ),
        );
        assert_eq!(b.matches("<networkInterfaceId>").count(), 1);
    });
    Figures {
        first,
        middle,
        lookup,
    }
}

fn main() {
    let small = measure(100);
    let big = measure(10_000);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "DescribeNetworkInterfaces, MaxResults=50, median of 200 calls through the EC2 handler"
    );
    println!(
        "{:<34} {:>12} {:>12} {:>8}",
        "", "100 inst", "10,000 inst", "ratio"
    );
    for (name, a, b) in [
        ("first page", small.first, big.first),
        ("page from the middle (NextToken)", small.middle, big.middle),
        ("attachment.instance-id lookup", small.lookup, big.lookup),
    ] {
        println!(
            "{name:<34} {:>10.1}us {:>10.1}us {:>7.2}x",
            us(a),
            us(b),
            us(b) / us(a)
        );
    }
}
