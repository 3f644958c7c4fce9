//! Network-namespace SSH hosts for trying the `sky` CLI on an SSH node pool by hand (root
//! only): `cargo run -p sky-benches --example pool_hosts -- N HOME` creates N hosts, writes
//! `HOME/.sky/ssh_node_pools.yaml` (pool `lab`) with a key that they accept, prints the
//! hosts, and keeps them until its standard input closes (then removes them).
//!
//! ```sh
//! mkfifo /tmp/hold; cargo run -p sky-benches --example pool_hosts -- 3 /tmp/h < /tmp/hold &
//! exec 3>/tmp/hold                   # hold the hosts
//! HOME=/tmp/h sky launch -c c task.yaml
//! exec 3>&-                          # remove them
//! ```

use std::io::Read;
use std::path::PathBuf;

use sky_exec::SshKeyPair;
use sky_exec::testing::NetnsHosts;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().as_deref().unwrap_or("3").parse()?;
    let home = PathBuf::from(args.next().ok_or("usage: pool_hosts N HOME")?);
    let sky = home.join(".sky");
    std::fs::create_dir_all(&sky)?;
    let key = SshKeyPair::ensure(&home.join("pool-key"))?;
    let hosts = NetnsHosts::create(n, key.public_key_openssh())?;
    let mut yaml = format!(
        "lab:\n  user: root\n  identity_file: {}\n  hosts:\n",
        key.private_key_path().display()
    );
    for h in hosts.hosts() {
        yaml.push_str(&format!("    - {}\n", h.ip));
        println!("{} ({})", h.ip, h.netns);
    }
    std::fs::write(sky.join("ssh_node_pools.yaml"), yaml)?;
    let ssh = home.join(".ssh");
    std::fs::create_dir_all(&ssh)?;
    std::fs::copy(hosts.known_hosts_file(), ssh.join("known_hosts"))?;
    println!("ready: HOME={}", home.display());
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    drop(hosts);
    Ok(())
}
