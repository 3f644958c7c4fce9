//! `sky show-gpus [NAME[:COUNT]]`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use sky::catalog::AcceleratorFilter;

use crate::table::{num, price, render};
use crate::{CmdResult, Failure, Global, load};

/// Arguments of `sky show-gpus`.
#[derive(Args, Debug)]
pub struct ShowGpusArgs {
    /// An accelerator name, optionally with a count (`V100`, `A100:8`).
    accelerator: Option<String>,
    /// Only this cloud.
    #[arg(long)]
    cloud: Option<String>,
    /// Only regions whose name contains this.
    #[arg(long)]
    region: Option<String>,
    /// One row per region (default: the cheapest region per instance type).
    #[arg(long)]
    all_regions: bool,
}

/// Lists accelerators: with a name, every offer of it; without, each accelerator's counts.
pub fn run(g: &Global, a: &ShowGpusArgs) -> CmdResult {
    let clouds = match &a.cloud {
        Some(c) => Some(load::parse_clouds(std::slice::from_ref(c))?),
        None => None,
    };
    let catalogs = load::catalogs(g, clouds.as_deref())?;
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
    if rows.is_empty() {
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
        return Err(Failure::new("not_found", msg, 1));
    }
    if g.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if name.is_none() {
        // Summary: per accelerator, the counts each cloud offers.
        let mut summary: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
        for r in &rows {
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
        return Ok(ExitCode::SUCCESS);
    }
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
    Ok(ExitCode::SUCCESS)
}
