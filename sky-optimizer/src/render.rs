//! Human-readable plan tables, in the layout `sky launch` prints.

use std::fmt::Write;

use crate::candidates::num;
use crate::options::Objective;
use crate::plan::{Plan, TaskPlacement};

fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let total: usize = width.iter().map(|w| w + 3).sum::<usize>() + 1;
    let rule = "-".repeat(total);
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (cell, w) in cells.zip(&width) {
            let pad = w - cell.chars().count();
            s.push(' ');
            s.push_str(cell);
            s.push_str(&" ".repeat(pad + 2));
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(out, "{}", line(&mut headers.iter().copied()));
    let _ = writeln!(out, "{rule}");
    for r in rows {
        let _ = writeln!(out, "{}", line(&mut r.iter().map(String::as_str)));
    }
    let _ = writeln!(out, "{rule}");
}

fn money(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.01 {
        format!("{x:.4}")
    } else {
        format!("{x:.2}")
    }
}

fn duration(s: f64) -> String {
    let total = s.round() as u64;
    format!(
        "{}s ({}:{:02}:{:02})",
        num((s * 1000.0).round() / 1000.0),
        total / 3600,
        total / 60 % 60,
        total % 60
    )
}

fn infra(p: &TaskPlacement) -> String {
    match &p.zone {
        Some(z) => format!("{}/{}/{}", p.cloud, p.region, z),
        None => format!("{}/{}", p.cloud, p.region),
    }
}

fn accelerators(a: &Option<sky_core::catalog::Accelerator>) -> String {
    a.as_ref()
        .map(|a| format!("{}:{}", a.name, num(a.count)))
        .unwrap_or_else(|| "-".into())
}

impl Plan {
    /// The plan as text tables, as `sky launch` prints them: the target and totals, a
    /// "Best plan" table when there is more than one task, the egress plan when data moves,
    /// and per task a "Considered resources (N nodes)" table (CLOUD, INSTANCE, vCPUs,
    /// Mem(GB), ACCELERATORS, REGION/ZONE, COST ($), CHOSEN).
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Target: minimizing {}",
            match self.objective {
                Objective::Cost => "cost",
                Objective::Time => "run time",
            }
        );
        let single = self.placements.len() == 1 && self.egress.is_empty();
        if single && (self.placements[0].runtime_s - 3600.0).abs() < 1e-9 {
            let p = &self.placements[0];
            let _ = writeln!(
                out,
                "Estimated cost: ${} / hour",
                money(p.hourly_price * f64::from(p.num_nodes))
            );
        } else {
            let _ = writeln!(out, "Estimated total cost: ${}", money(self.total_cost));
            let _ = writeln!(out, "Estimated total time: {}", duration(self.total_time_s));
        }
        let _ = writeln!(out, "Solver: {}", self.solver);

        if self.placements.len() > 1 {
            let _ = writeln!(out, "\nBest plan ({} tasks):", self.placements.len());
            let rows: Vec<Vec<String>> = self
                .placements
                .iter()
                .map(|p| {
                    vec![
                        p.task.clone(),
                        p.num_nodes.to_string(),
                        infra(p),
                        format!(
                            "{}{} ({} vCPUs, {} GB{})",
                            p.instance_type,
                            if p.use_spot { "[spot]" } else { "" },
                            num(p.vcpus),
                            num(p.memory_gib),
                            p.accelerators
                                .as_ref()
                                .map(|a| format!(", {}:{}", a.name, num(a.count)))
                                .unwrap_or_default()
                        ),
                        money(p.cost),
                        duration(p.finish_s),
                    ]
                })
                .collect();
            table(
                &mut out,
                &["TASK", "#NODES", "INFRA", "RESOURCES", "COST ($)", "FINISH"],
                &rows,
            );
        }

        if !self.egress.is_empty() {
            let _ = writeln!(out, "\nEgress plan:");
            let rows: Vec<Vec<String>> = self
                .egress
                .iter()
                .map(|e| {
                    vec![
                        format!(
                            "{}{}",
                            e.from,
                            e.from_cloud
                                .as_ref()
                                .map(|c| format!(" ({c})"))
                                .unwrap_or_default()
                        ),
                        format!("{} ({})", e.to, e.to_cloud),
                        num(e.gb),
                        money(e.cost),
                        num((e.time_s * 1000.0).round() / 1000.0),
                    ]
                })
                .collect();
            table(
                &mut out,
                &["SOURCE", "TARGET", "SIZE (GB)", "COST ($)", "TIME (s)"],
                &rows,
            );
        }

        for c in &self.considered {
            let _ = writeln!(
                out,
                "\nConsidered resources ({} node{}){}:",
                c.num_nodes,
                if c.num_nodes == 1 { "" } else { "s" },
                if self.placements.len() > 1 {
                    format!(" for task {:?}", c.task)
                } else {
                    String::new()
                }
            );
            let rows: Vec<Vec<String>> = c
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.cloud.as_str().to_ascii_uppercase(),
                        format!(
                            "{}{}",
                            r.instance_type,
                            if r.use_spot { "[spot]" } else { "" }
                        ),
                        num(r.vcpus),
                        num(r.memory_gib),
                        accelerators(&r.accelerators),
                        match &r.zone {
                            Some(z) => z.clone(),
                            None => r.region.clone(),
                        },
                        money(r.cost),
                        if r.chosen {
                            "\u{2714}".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    "CLOUD",
                    "INSTANCE",
                    "vCPUs",
                    "Mem(GB)",
                    "ACCELERATORS",
                    "REGION/ZONE",
                    "COST ($)",
                    "CHOSEN",
                ],
                &rows,
            );
        }
        out
    }
}

/// `s` as a quoted Graphviz string.
fn dot_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

impl Plan {
    /// The plan as a Graphviz DOT graph: a box per task with where it runs (infra, nodes ×
    /// instance type, accelerators, cost and finish time), a cylinder per source input, and
    /// an arrow per DAG edge labelled with the data it moves and what that costs (`no data`
    /// when the edge carries none). Render it with `dot -Tsvg plan.dot > plan.svg`.
    ///
    /// `dag` is the DAG the plan was made for (its edges are drawn as given).
    ///
    /// ```
    /// # use sky_core::{CloudId, Dag};
    /// # use sky_optimizer::{optimize, BlockList, Objective, Options};
    /// let catalogs = sky_catalog::load(
    ///     &sky_catalog::testing::test_catalog_source(),
    ///     &[CloudId::Gcp, CloudId::Azure],
    /// )
    /// .unwrap();
    /// let dag = Dag::from_yaml_str("name: a\nrun: echo a\n---\nname: b\nrun: echo b\n").unwrap();
    /// let plan = optimize(&dag, &catalogs, &BlockList::new(), Objective::Cost, &Options::new()).unwrap();
    /// let dot = plan.render_dot(&dag);
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("t0 -> t1"));
    /// ```
    pub fn render_dot(&self, dag: &sky_core::Dag) -> String {
        let mut out = String::new();
        let title = dag.name.clone().unwrap_or_else(|| "plan".into());
        let _ = writeln!(out, "digraph {} {{", dot_quote(&title));
        let _ = writeln!(out, "  rankdir=LR;");
        let _ = writeln!(
            out,
            "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];"
        );
        let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=10];");
        let _ = writeln!(
            out,
            "  label={}; labelloc=t;",
            dot_quote(&format!(
                "{title}: minimizing {}; total ${}, {}",
                match self.objective {
                    Objective::Cost => "cost",
                    Objective::Time => "run time",
                },
                money(self.total_cost),
                duration(self.total_time_s)
            ))
        );
        for p in &self.placements {
            let label = format!(
                "{}\n{}\n{}x {}{}{}\n${} · finishes at {}",
                p.task,
                infra(p),
                p.num_nodes,
                p.instance_type,
                if p.use_spot { " [spot]" } else { "" },
                p.accelerators
                    .as_ref()
                    .map(|a| format!(" ({}:{})", a.name, num(a.count)))
                    .unwrap_or_default(),
                money(p.cost),
                duration(p.finish_s)
            );
            let _ = writeln!(out, "  t{} [label={}];", p.task_index, dot_quote(&label));
        }
        let index_of = |name: &str| {
            self.placements
                .iter()
                .find(|p| p.task == name)
                .map(|p| p.task_index)
        };
        let leg_label = |gb: f64, cost: f64| format!("{} GB\n${}", num(gb), money(cost));
        for &(from, to) in dag.edges() {
            let leg = self
                .egress
                .iter()
                .find(|e| index_of(&e.from) == Some(from) && index_of(&e.to) == Some(to));
            let label = leg.map_or_else(|| "no data".into(), |e| leg_label(e.gb, e.cost));
            let _ = writeln!(out, "  t{from} -> t{to} [label={}];", dot_quote(&label));
        }
        // Inputs of source tasks: data that comes from outside the DAG.
        for (i, e) in self
            .egress
            .iter()
            .filter(|e| index_of(&e.from).is_none())
            .enumerate()
        {
            let Some(to) = index_of(&e.to) else { continue };
            let _ = writeln!(
                out,
                "  in{i} [shape=cylinder, style=\"\", label={}];",
                dot_quote(&e.from)
            );
            let _ = writeln!(
                out,
                "  in{i} -> t{to} [label={}];",
                dot_quote(&leg_label(e.gb, e.cost))
            );
        }
        out.push_str("}\n");
        out
    }
}
