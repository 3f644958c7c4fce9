//! Shell completion ([`clap_complete`]'s dynamic completion): subcommands and flags from the
//! command definition, cluster names from the state store.
//!
//! Set up once per shell, e.g. `source <(sky completion bash)` in `~/.bashrc` (or
//! `sky completion zsh|fish|elvish|powershell`). The script asks `sky` itself for the
//! candidates (`COMPLETE=bash sky -- sky down <TAB>`), so the names are today's.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::Shells;

use crate::{CmdResult, Failure};

/// The environment variable the registration script sets to ask for completions.
pub const VAR: &str = "COMPLETE";

/// Arguments of `sky completion`.
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: String,
}

/// Prints the script that registers `sky`'s completion in `shell`.
pub fn run(a: &CompletionArgs) -> CmdResult {
    let shells = Shells::builtins();
    let Some(shell) = shells.completer(&a.shell) else {
        let names: Vec<&str> = shells.names().collect();
        let hint = sky::suggest::did_you_mean(&a.shell, names.iter().copied())
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_default();
        return Err(Failure::new(
            "invalid_argument",
            format!(
                "unknown shell {:?}{hint} (known: {})",
                a.shell,
                names.join(", ")
            ),
            2,
        ));
    };
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "sky".into());
    let mut out = std::io::stdout().lock();
    shell
        .write_registration(VAR, "sky", "sky", &exe, &mut out)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new("io", format!("cannot write the script: {e}"), 1))?;
    Ok(ExitCode::SUCCESS)
}

/// The names of the clusters in the state store (`SKY_STATE_DIR`, else `~/.sky`), for
/// completing a cluster argument; nothing when there is no store yet (none is created).
pub fn cluster_names() -> Vec<CompletionCandidate> {
    let dir = std::env::var_os("SKY_STATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(sky::runtime::state::StateStore::default_dir);
    if !dir.join("state.db").exists() {
        return Vec::new();
    }
    let Ok(store) = sky::runtime::state::StateStore::open(&dir) else {
        return Vec::new();
    };
    store
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(|r| CompletionCandidate::new(r.name).help(Some(r.status.to_string().into())))
        .collect()
}
