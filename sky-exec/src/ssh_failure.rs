//! Why an SSH connection could not be made, read from ssh's own words.
//!
//! `ssh` reports every failure as text on its standard error and exit status 255. The
//! `openssh` crate keeps that text as the message of the `io::Error` inside
//! `openssh::Error::Connect`; [`ConnectFailure::classify`] sorts it into the few cases a
//! person fixes differently, each with the fix in one line ([`ConnectFailure::fix`]).

use std::fmt;

/// What kind of SSH connection failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// Nothing answered: no route to the host, the network is unreachable, or its name does
    /// not resolve.
    Unreachable,
    /// The host answered but nothing listens on the port (sshd is not running).
    Refused,
    /// The connection or the SSH handshake did not complete within the connect timeout.
    Timeout,
    /// The server refused every key offered (wrong user, wrong key, key not authorized).
    Auth,
    /// The host's key differs from the one in the known-hosts file (reinstalled host, or a
    /// machine in the middle).
    HostKeyChanged,
    /// The host's key is not in the known-hosts file and the policy requires it.
    HostKeyUnknown,
    /// The private key file is missing or unreadable.
    KeyFile,
    /// Anything else ssh reported.
    Other,
}

impl ConnectFailure {
    /// Sorts ssh's standard error (as kept by `openssh`) into a failure kind.
    pub fn classify(stderr: &str) -> Self {
        let s = stderr.to_ascii_lowercase();
        if s.contains("remote host identification has changed")
            || s.contains("host key for") && s.contains("has changed")
        {
            ConnectFailure::HostKeyChanged
        } else if s.contains("host key verification failed") || s.contains("host key is known for")
        {
            ConnectFailure::HostKeyUnknown
        } else if s.contains("permission denied (")
            || s.contains("too many authentication failures")
            || s.contains("no supported authentication methods")
        {
            ConnectFailure::Auth
        } else if s.contains("connection refused") {
            ConnectFailure::Refused
        } else if s.contains("timed out") || s.contains("timeout") {
            ConnectFailure::Timeout
        } else if s.contains("no route to host")
            || s.contains("network is unreachable")
            || s.contains("could not resolve hostname")
            || s.contains("name or service not known")
        {
            ConnectFailure::Unreachable
        } else if s.contains("identity file") && s.contains("not accessible")
            || s.contains("load key")
        {
            ConnectFailure::KeyFile
        } else {
            ConnectFailure::Other
        }
    }

    /// The snake_case name used in JSON (`refused`, `host_key_changed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectFailure::Unreachable => "unreachable",
            ConnectFailure::Refused => "refused",
            ConnectFailure::Timeout => "timeout",
            ConnectFailure::Auth => "auth",
            ConnectFailure::HostKeyChanged => "host_key_changed",
            ConnectFailure::HostKeyUnknown => "host_key_unknown",
            ConnectFailure::KeyFile => "key_file",
            ConnectFailure::Other => "other",
        }
    }

    /// What to do about it, in one line, for the node `user@host:port`.
    pub fn fix(self, host: &str, port: u16) -> String {
        match self {
            ConnectFailure::Unreachable => {
                format!("check that {host} is up and that this machine has a route to it")
            }
            ConnectFailure::Refused => {
                format!("start sshd on {host}, or set the port it listens on (now {port})")
            }
            ConnectFailure::Timeout => format!(
                "check that {host} is up and that a firewall lets this machine reach port {port}"
            ),
            ConnectFailure::Auth => format!(
                "check the user and identity_file, and that the public key is in \
                 ~/.ssh/authorized_keys of that user on {host}"
            ),
            ConnectFailure::HostKeyChanged => format!(
                "if {host} was reinstalled, remove its old key with `ssh-keygen -R {host}` \
                 (add -f FILE for a known-hosts file of your own); otherwise do not connect"
            ),
            ConnectFailure::HostKeyUnknown => format!(
                "add {host}'s key to the known-hosts file (verify it, then \
                 `ssh-keyscan -p {port} {host} >> ~/.ssh/known_hosts`)"
            ),
            ConnectFailure::KeyFile => {
                "point identity_file at an existing private key readable by this user".to_string()
            }
            ConnectFailure::Other => format!("run `ssh -v -p {port} {host}` to see more"),
        }
    }
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectFailure::Unreachable => "host unreachable",
            ConnectFailure::Refused => "connection refused",
            ConnectFailure::Timeout => "timed out",
            ConnectFailure::Auth => "authentication failed",
            ConnectFailure::HostKeyChanged => "host key changed",
            ConnectFailure::HostKeyUnknown => "host key unknown",
            ConnectFailure::KeyFile => "private key unusable",
            ConnectFailure::Other => "ssh failed",
        })
    }
}

/// ssh's own reason, on one line: the warning banners dropped, the lines that say what
/// happened kept.
pub(crate) fn reason_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '@' || c.is_whitespace()))
        .filter(|l| !l.is_empty())
        .filter(|l| !l.starts_with("Warning: Permanently added"))
        .collect();
    // The host-key banner is long; its first and last lines say what matters.
    let picked: Vec<&str> = if lines.len() > 3 {
        let mut v = vec![lines[0]];
        v.extend(lines.iter().rev().take(2).rev());
        v
    } else {
        lines
    };
    let joined = picked
        .iter()
        .map(|l| l.strip_prefix("ssh: ").unwrap_or(l).trim_end_matches('.'))
        .collect::<Vec<_>>()
        .join("; ");
    if joined.is_empty() {
        "ssh exited without saying why".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_messages_are_classified() {
        let cases = [
            (
                "connect to host 10.0.0.1 port 22: Connection refused",
                ConnectFailure::Refused,
            ),
            (
                "connect to host 10.0.0.1 port 22: Connection timed out",
                ConnectFailure::Timeout,
            ),
            (
                "connect to host 10.0.0.1 port 22: No route to host",
                ConnectFailure::Unreachable,
            ),
            (
                "Could not resolve hostname nohost: Name or service not known",
                ConnectFailure::Unreachable,
            ),
            (
                "root@10.0.0.1: Permission denied (publickey).",
                ConnectFailure::Auth,
            ),
            (
                "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
                 @@@@@@@@@@@\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
                 Host key for 10.0.0.1 has changed and you have requested strict checking.\n\
                 Host key verification failed.",
                ConnectFailure::HostKeyChanged,
            ),
            (
                "No ED25519 host key is known for 10.0.0.1 and you have requested strict \
                 checking.\nHost key verification failed.",
                ConnectFailure::HostKeyUnknown,
            ),
            (
                "Warning: Identity file /k not accessible: No such file or directory.",
                ConnectFailure::KeyFile,
            ),
            (
                "mux_client_request_session: read from master failed",
                ConnectFailure::Other,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(ConnectFailure::classify(text), want, "{text}");
        }
    }

    #[test]
    fn the_reason_is_one_line_without_banners() {
        let text = "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
                    @@@@@@@@@@@\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
                    Offending ED25519 key in /k:1\n\
                    Host key for 10.0.0.1 has changed and you have requested strict checking.\n\
                    Host key verification failed.\n";
        assert_eq!(
            reason_line(text),
            "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!; Host key for \
             10.0.0.1 has changed and you have requested strict checking; Host key \
             verification failed"
        );
        assert_eq!(
            reason_line("ssh: connect to host h port 22: Connection refused\n"),
            "connect to host h port 22: Connection refused"
        );
        assert_eq!(reason_line(""), "ssh exited without saying why");
    }
}
