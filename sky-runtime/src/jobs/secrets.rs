//! A job's secrets between submission and start: kept in memory by the broker that
//! submitted the job, and in a file on the head node (hex-encoded, mode 0600) for any other
//! broker that starts it; dropped once the run has started or the job has ended.

use std::collections::BTreeMap;

use sky_core::task::Secret;
use sky_exec::{ExecError, GangNode};

use super::store::JobRow;
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::state::ClusterRecord;

/// Where a queued job's secrets wait on the head node.
const PENDING_DIR: &str = ".sky/pending";

/// Secrets of jobs this broker submitted, by (cluster incarnation, job id).
pub(crate) type SecretCache = BTreeMap<(String, u64), BTreeMap<String, Secret>>;

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

impl Broker {
    pub(super) fn pending_path(token: &str) -> String {
        format!("\"$HOME\"/{PENDING_DIR}/{token}.env")
    }

    pub(super) async fn stash_secrets(
        &self,
        rec: &ClusterRecord,
        token: &str,
        secrets: &BTreeMap<String, Secret>,
    ) -> Result<(), BrokerError> {
        let nodes = self.nodes_of(rec).await?;
        let body: String = secrets
            .iter()
            .map(|(k, v)| format!("{k}={}\n", hex(v.expose())))
            .collect();
        let path = Self::pending_path(token);
        let script = format!(
            "umask 077\nmkdir -p \"$HOME\"/{PENDING_DIR}\ncat > {path}.tmp <<'__SKY_SECRETS__'\n{body}__SKY_SECRETS__\nmv -f {path}.tmp {path}\n"
        );
        let out = nodes[0]
            .runner
            .exec(&script)
            .await
            .map_err(|e| self.exec_err(&rec.name, e))?;
        if out.code != 0 {
            return Err(self.exec_err(
                &rec.name,
                ExecError::CommandFailed {
                    node: nodes[0].ip.clone(),
                    what: "storing the job's secrets on the head node".into(),
                    code: out.code,
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                },
            ));
        }
        Ok(())
    }

    /// The secrets of a job: from memory, or from the head node's file; `None` if lost.
    pub(super) async fn secrets_for(
        &self,
        row: &JobRow,
        nodes: &[GangNode],
    ) -> Result<Option<BTreeMap<String, Secret>>, ExecError> {
        if row.payload.secret_names.is_empty() {
            return Ok(Some(BTreeMap::new()));
        }
        let key = (row.record.cluster_hash.clone(), row.record.job_id);
        if let Some(s) = self
            .secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(s.clone()));
        }
        let Some(token) = &row.payload.secrets_token else {
            return Ok(None);
        };
        let out = nodes[0]
            .runner
            .exec(&format!(
                "cat {} 2>/dev/null || exit 3\n",
                Self::pending_path(token)
            ))
            .await?;
        if out.code != 0 {
            return Ok(None);
        }
        let mut secrets = BTreeMap::new();
        for line in out.stdout_text().lines() {
            if let Some((k, v)) = line.split_once('=')
                && let Some(v) = unhex(v.trim())
            {
                secrets.insert(k.to_string(), Secret::new(v));
            }
        }
        let complete = row
            .payload
            .secret_names
            .iter()
            .all(|n| secrets.contains_key(n));
        Ok(complete.then_some(secrets))
    }

    /// Forgets a job's secrets once they are no longer needed (its run started, or it ended).
    pub(super) async fn drop_secrets(&self, row: &JobRow, nodes: &[GangNode]) {
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(row.record.cluster_hash.clone(), row.record.job_id));
        if let Some(token) = &row.payload.secrets_token
            && let Some(head) = nodes.first()
            && let Err(e) = head
                .runner
                .exec(&format!("rm -f {}\n", Self::pending_path(token)))
                .await
        {
            tracing::warn!(job = row.record.job_id, error = %e, "cannot remove a job's secrets file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        for s in ["", "a=b", "multi\nline 'quoted' \"x\" $HOME", "üñí"] {
            assert_eq!(unhex(&hex(s)).as_deref(), Some(s));
        }
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }
}
