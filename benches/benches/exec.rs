//! Execution benchmarks.
//!
//! - `local_launch_echo_to_first_output`: `launch` of a 1-node `echo hi` task on the local
//!   backend (provision, submit, start) until its first output line is read back (goal:
//!   at most 1 s).
//! - `fanout8`: the same `echo hi` run on 8 SSH hosts (network-namespace hosts running sshd:
//!   root only; skipped with a note elsewhere), as a job through the broker on an SSH node
//!   pool cluster (connections reused, nodes in parallel, until the job is recorded
//!   SUCCEEDED), against a bare `for host in ...; ssh host 'echo hi'; done` loop (goal: the
//!   broker within 1.5x of the loop).
//! - `pool3_new_process`: what `sky launch` and `sky exec` of `echo hi` on a 3-host SSH node
//!   pool cost a new process (a new broker each time, so connections are made afresh): a
//!   `launch` of a new cluster until the job has ended and its logs are read (then `down`,
//!   not timed), against an `exec` on a cluster that is already up, timed the same way
//!   (goal: exec no slower than launch).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sky_cloud_local::LocalCloud;
use sky_cloud_ssh::{NodePools, SshPoolCloud};
use sky_core::Task;
use sky_exec::testing::NetnsHosts;
use sky_exec::{KnownHostsPolicy, SshKeyPair};
use sky_runtime::{Broker, JobStatus, LogsOptions, ProvisionOptions};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn local_launch(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Broker::builder()
        .state_dir(dir.path())
        .expect("state")
        .backend(Arc::new(LocalCloud::new(dir.path())))
        .build()
        .expect("broker");
    let task = Task::from_yaml_str("run: echo hi\n").expect("task");
    let rt = rt();
    let mut n = 0u64;
    c.bench_function("local_launch_echo_to_first_output", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let name = format!("bench-{n}");
                rt.block_on(async {
                    let start = Instant::now();
                    let launched = broker
                        .launch(&task, &name, &ProvisionOptions::new())
                        .await
                        .expect("launch");
                    let mut first = None;
                    broker
                        .logs(
                            &name,
                            &LogsOptions::new()
                                .job_or_latest(launched.job_id)
                                .follow(true),
                            &mut |l| {
                                if first.is_none() {
                                    assert_eq!(l.text, "hi");
                                    first = Some(start.elapsed());
                                }
                            },
                        )
                        .await
                        .expect("logs");
                    total += first.expect("one line of output");
                    broker.down(&name).await.expect("down");
                });
            }
            total
        })
    });
}

fn pool_file(dir: &Path, hosts: &NetnsHosts, key: &SshKeyPair) -> NodePools {
    let mut yaml = format!(
        "bench:\n  user: root\n  identity_file: {}\n  hosts:\n",
        key.private_key_path().display()
    );
    for h in hosts.hosts() {
        yaml.push_str(&format!("    - {}\n", h.ip));
    }
    let path = dir.join("ssh_node_pools.yaml");
    std::fs::write(&path, yaml).expect("pool file");
    NodePools::from_file(&path).expect("pools")
}

fn fanout(c: &mut Criterion) {
    const N: usize = 8;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = SshKeyPair::ensure(&dir.path().join("keys")).expect("key");
    let hosts = match NetnsHosts::create(N, key.public_key_openssh()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("note: skipping fanout8: {e}");
            return;
        }
    };
    let pools = pool_file(dir.path(), &hosts, &key);
    let cloud = SshPoolCloud::new(pools, dir.path())
        .expect("pool")
        .with_known_hosts(
            KnownHostsPolicy::Strict,
            Some(hosts.known_hosts_file().to_path_buf()),
        );
    let broker = Broker::builder()
        .state_dir(dir.path())
        .expect("state")
        .backend(Arc::new(cloud))
        .build()
        .expect("broker");
    let rt = rt();
    let up = Task::from_yaml_str(&format!("num_nodes: {N}\nrun: 'true'\n")).expect("task");
    let first = rt
        .block_on(broker.launch(&up, "fan", &ProvisionOptions::new()))
        .expect("launch");
    rt.block_on(broker.wait_job("fan", first.job_id.expect("job"), Duration::from_secs(60)))
        .expect("first job");
    let echo = Task::from_yaml_str(&format!("num_nodes: {N}\nrun: echo hi\n")).expect("task");
    let mut group = c.benchmark_group("fanout8");
    group.sample_size(10);
    group.bench_function("broker_job", |b| {
        b.iter(|| {
            rt.block_on(async {
                let id = broker.exec("fan", &echo).await.expect("exec");
                let rec = broker
                    .wait_job("fan", id, Duration::from_secs(60))
                    .await
                    .expect("wait");
                assert_eq!(rec.status, JobStatus::Succeeded);
            })
        })
    });
    let ips: Vec<String> = hosts.hosts().iter().map(|h| h.ip.clone()).collect();
    let known = hosts.known_hosts_file().to_path_buf();
    let key_path = Arc::new(key.private_key_path().to_path_buf());
    group.bench_function("bare_ssh_loop", |b| {
        b.iter(|| {
            for ip in &ips {
                let out = Command::new("ssh")
                    .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
                    .arg("-o")
                    .arg(format!("UserKnownHostsFile={}", known.display()))
                    .arg("-i")
                    .arg(key_path.as_ref())
                    .arg(format!("root@{ip}"))
                    .arg("echo hi")
                    .output()
                    .expect("ssh");
                assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi");
            }
        })
    });
    group.finish();
    rt.block_on(broker.down("fan")).expect("down");
}

fn follow_to_end(broker: &Broker, name: &str, job: u64) {
    let mut lines = 0;
    let rec = rt_block(
        broker.logs(name, &LogsOptions::new().job(job).follow(true), &mut |_| {
            lines += 1
        }),
    )
    .expect("logs");
    assert_eq!(rec.status, JobStatus::Succeeded);
    assert_eq!(lines, 3, "one line per node");
}

thread_local! {
    static RT: tokio::runtime::Runtime = rt();
}

fn rt_block<F: std::future::Future>(f: F) -> F::Output {
    RT.with(|rt| rt.block_on(f))
}

fn pool3_new_process(c: &mut Criterion) {
    const N: usize = 3;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = SshKeyPair::ensure(&dir.path().join("keys")).expect("key");
    let hosts = match NetnsHosts::create(N, key.public_key_openssh()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("note: skipping pool3_new_process: {e}");
            return;
        }
    };
    let pools = pool_file(dir.path(), &hosts, &key);
    let known = hosts.known_hosts_file().to_path_buf();
    // A new broker, as a new `sky` process makes.
    let broker = || {
        let cloud = SshPoolCloud::new(pools.clone(), dir.path())
            .expect("pool")
            .with_known_hosts(KnownHostsPolicy::Strict, Some(known.clone()));
        Broker::builder()
            .state_dir(dir.path())
            .expect("state")
            .backend(Arc::new(cloud))
            .build()
            .expect("broker")
    };
    let echo = Task::from_yaml_str(&format!("num_nodes: {N}\nrun: echo hi\n")).expect("task");
    let mut group = c.benchmark_group("pool3_new_process");
    group.sample_size(10);
    group.bench_function("launch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let br = broker();
                let l =
                    rt_block(br.launch(&echo, "new", &ProvisionOptions::new())).expect("launch");
                follow_to_end(&br, "new", l.job_id.expect("job"));
                total += start.elapsed();
                rt_block(br.down("new")).expect("down");
            }
            total
        })
    });
    let up = broker();
    rt_block(up.provision(&echo, "up", &ProvisionOptions::new())).expect("provision");
    drop(up);
    group.bench_function("exec", |b| {
        b.iter(|| {
            let br = broker();
            let id = rt_block(br.exec("up", &echo)).expect("exec");
            follow_to_end(&br, "up", id);
        })
    });
    group.finish();
    rt_block(broker().down("up")).expect("down");
}

criterion_group!(benches, local_launch, fanout, pool3_new_process);
criterion_main!(benches);
