//! `sky show-gpus [NAME[:COUNT]]`: the accelerators of the backends `sky launch` places on
//! (the clouds `sky check` enabled, or `--cloud`), and the SSH node pools.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use sky::catalog::{AcceleratorFilter, AcceleratorOffer};

use crate::table::{num, price, render};
use crate::{CmdResult, Failure, Global, load};

/// Arguments of `sky show-gpus`.
#[derive(Args, Debug)]
pub struct ShowGpusArgs {
    /// An accelerator name, optionally with a count (`V100`, `A100:8`).
    accelerator: Option<String>,
    /// Only this cloud (default: what `sky launch` places on: the clouds `sky check`
    /// enabled, local and the SSH node pools). A cloud provider `sky check` has not enabled
    /// is listed from its catalog anyway, with a note. `--cloud ssh` lists the pools.
    #[arg(long)]
    cloud: Option<String>,
    /// Only regions whose name contains this.
    #[arg(long)]
    region: Option<String>,
    /// One row per region (default: the cheapest region per instance type).
    #[arg(long)]
    all_regions: bool,
}

/// Lists accelerators: with a name, every offer of it; without, each accelerator's counts
/// and the SSH node pools (which declare no accelerators: the hosts have what they have).
/// JSON: `{"accelerators": [offer...], "pools": [{"name", "hosts"}...]}`.
pub fn run(g: &Global, a: &ShowGpusArgs) -> CmdResult {
    let clouds = match &a.cloud {
        Some(c) => load::parse_clouds(std::slice::from_ref(c))?,
        None => Vec::new(),
    };
    let backends = load::backends(g, &clouds)?;
    let catalogs = &backends.catalogs;
    let (name, count) = match &a.accelerator {
        Some(s) => match s.split_once(':') {
            Some((n, c)) => {
                let count: f64 = c.parse().map_err(|_| {
                    Failure::new(
                        "invalid_argument",
                        format!("bad accelerator count in {s:?}"),
                        2,
                    )
                })?;
                (Some(n.to_string()), Some(count))
            }
            None => (Some(s.clone()), None),
        },
        None => (None, None),
    };
    let filter = AcceleratorFilter {
        name: name.clone(),
        count,
        region: a.region.clone(),
        all_regions: a.all_regions,
    };
    let mut rows = Vec::new();
    for c in catalogs.iter() {
        rows.extend(c.accelerators(&filter));
    }
    // Pools match no accelerator name: they are listed only without one.
    let pools = if name.is_none() {
        backends.pools.clone()
    } else {
        Vec::new()
    };
    if rows.is_empty() && pools.is_empty() {
        let mut msg = format!(
            "no accelerator matches {}",
            a.accelerator.as_deref().unwrap_or("*")
        );
        if let Some(n) = &name {
            let all: Vec<String> = catalogs
                .iter()
                .flat_map(|c| c.accelerator_names())
                .collect();
            let near = sky::suggest::closest(n, all.iter().map(String::as_str), 3);
            if !near.is_empty() {
                msg.push_str(&format!("; did you mean {}?", near.join(", ")));
            }
        }
        if !backends.pools.is_empty() {
            msg.push_str("; SSH node pools declare no accelerators");
        }
        let providers = catalogs
            .clouds()
            .iter()
            .any(|c| sky::clouds::PROVIDER_CLOUDS.contains(c));
        if !providers {
            msg.push_str(
                "; no cloud provider is enabled: run `sky check`, or name one with --cloud",
            );
        }
        return Err(Failure::new("not_found", msg, 1));
    }
    if g.json {
        let out = serde_json::json!({"accelerators": rows, "pools": pools});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    if name.is_none() {
        print_summary(&rows);
        print_pools(&pools, !rows.is_empty());
        return Ok(ExitCode::SUCCESS);
    }
    print_offers(&rows);
    Ok(ExitCode::SUCCESS)
}

/// The SSH node pools, one row each.
fn print_pools(pools: &[sky::clouds::PoolSummary], after_table: bool) {
    if pools.is_empty() {
        return;
    }
    if after_table {
        println!();
    }
    let table: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                "ssh".into(),
                p.hosts.len().to_string(),
                "none declared (the hosts' own; not probed)".into(),
            ]
        })
        .collect();
    print!(
        "{}",
        render(&["SSH_NODE_POOL", "CLOUD", "HOSTS", "ACCELERATORS"], table)
    );
}

/// Per accelerator, the counts each cloud offers.
fn print_summary(rows: &[AcceleratorOffer]) {
    if rows.is_empty() {
        return;
    }
    // Summary: per accelerator, the counts each cloud offers.
    let mut summary: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for r in rows {
        let e = summary
            .entry((r.accelerator.name.clone(), r.cloud.to_string()))
            .or_default();
        if !e.contains(&r.accelerator.count) {
            e.push(r.accelerator.count);
        }
    }
    let table: Vec<Vec<String>> = summary
        .into_iter()
        .map(|((gpu, cloud), mut counts)| {
            counts.sort_by(f64::total_cmp);
            vec![
                gpu,
                cloud,
                counts
                    .iter()
                    .map(|c| num(*c))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    print!(
        "{}",
        render(&["GPU", "CLOUD", "AVAILABLE_QUANTITIES"], table)
    );
}

/// Every offer, one row each.
fn print_offers(rows: &[AcceleratorOffer]) {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.accelerator.name.clone(),
                num(r.accelerator.count),
                r.cloud.to_string(),
                if r.instance_type.is_empty() {
                    "(attachable)".into()
                } else {
                    r.instance_type.clone()
                },
                r.device_memory_gib
                    .map_or("-".into(), |m| format!("{}GB", num(m))),
                r.vcpus.map_or("-".into(), num),
                r.host_memory_gib
                    .map_or("-".into(), |m| format!("{}GB", num(m))),
                price(r.hourly_price),
                price(r.hourly_spot_price),
                r.region.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        render(
            &[
                "GPU",
                "QTY",
                "CLOUD",
                "INSTANCE_TYPE",
                "DEVICE_MEM",
                "vCPUs",
                "HOST_MEM",
                "HOURLY_PRICE",
                "HOURLY_SPOT_PRICE",
                "REGION",
            ],
            table
        )
    );
}
