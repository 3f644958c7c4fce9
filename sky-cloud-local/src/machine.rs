//! What this machine offers: cores and memory.

/// The size of this machine, as the catalog offers it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Machine {
    /// Logical CPUs usable by this process.
    pub vcpus: f64,
    /// Total memory in GiB.
    pub memory_gib: f64,
}

impl Machine {
    /// Reads this machine: `std::thread::available_parallelism` for the CPUs and
    /// `MemTotal` of `/proc/meminfo` for the memory (0 where there is no `/proc`, which makes
    /// every memory request unsatisfiable rather than guessed).
    pub fn detect() -> Self {
        let vcpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| parse_meminfo_kib(&s))
            .map_or(0.0, |kib| kib as f64 / (1024.0 * 1024.0));
        Machine {
            vcpus,
            memory_gib: (memory_gib * 100.0).floor() / 100.0,
        }
    }
}

/// `MemTotal` in KiB from the text of `/proc/meminfo`.
fn parse_meminfo_kib(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(n),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo() {
        let text = "MemTotal:       24576000 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_meminfo_kib(text), Some(24_576_000));
        assert_eq!(parse_meminfo_kib("nothing"), None);
        let m = Machine::detect();
        assert!(m.vcpus >= 1.0);
        if cfg!(target_os = "linux") {
            assert!(m.memory_gib > 0.0);
        }
    }
}
