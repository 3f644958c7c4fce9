//! Seeded random faults: the same seed and the same sequence of calls give the same failures.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::fake::fault::{Failure, Op};

/// Random failures of the calls that acquire resources, reproducible from a seed.
///
/// Chaos applies to [`Op::Bootstrap`], [`Op::RunInstances`] and [`Op::StartInstances`]
/// only, never to queries or teardown, so cleanup after a chaotic run always works. Each such
/// call draws from a ChaCha8 stream seeded with `seed` (ChaCha8 rather than `StdRng`, whose
/// algorithm may change between `rand` versions); it fails with probability `failure_rate`,
/// with a kind drawn uniformly from `kinds` (empty = [`ErrorKind::Capacity`]). Scripted
/// [`crate::fake::Fault`] rules take precedence: chaos decides only calls no rule matched.
///
/// Calls made concurrently draw in the order they reach the fake, which the scheduler
/// decides; sequential callers get a fixed sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChaosConfig {
    /// The seed of the random stream.
    pub seed: u64,
    /// Probability in `0.0..=1.0` that an eligible call fails.
    pub failure_rate: f64,
    /// The kinds to draw from.
    pub kinds: Vec<ErrorKind>,
}

impl ChaosConfig {
    /// The operations chaos may fail.
    pub const OPS: [Op; 3] = [Op::Bootstrap, Op::RunInstances, Op::StartInstances];
}

#[derive(Debug)]
pub(crate) struct Chaos {
    config: ChaosConfig,
    rng: ChaCha8Rng,
    draws: u64,
}

impl Chaos {
    pub(crate) fn new(config: ChaosConfig) -> Self {
        Chaos {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            draws: 0,
        }
    }

    /// Draws for one call of `op`: the failure to inject, if any.
    pub(crate) fn draw(&mut self, op: Op) -> Option<Failure> {
        if !ChaosConfig::OPS.contains(&op) {
            return None;
        }
        self.draws += 1;
        let roll: f64 = self.rng.random();
        if roll >= self.config.failure_rate {
            return None;
        }
        let kind = match self.config.kinds.len() {
            0 => ErrorKind::Capacity,
            n => self.config.kinds[self.rng.random_range(0..n)],
        };
        Some(
            Failure::new(kind)
                .code(format!("FakeChaos.{kind}"))
                .message(format!(
                    "chaos: injected {kind} in {op} (seed {}, draw {})",
                    self.config.seed, self.draws
                )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64) -> Vec<Option<ErrorKind>> {
        let mut c = Chaos::new(ChaosConfig {
            seed,
            failure_rate: 0.5,
            kinds: vec![ErrorKind::Capacity, ErrorKind::Transient],
        });
        (0..64)
            .map(|_| c.draw(Op::RunInstances).map(|f| f.kind))
            .collect()
    }

    #[test]
    fn same_seed_same_sequence_and_rate_is_respected() {
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8), "different seeds should differ over 64 draws");
        let failures = a.iter().filter(|k| k.is_some()).count();
        assert!((16..=48).contains(&failures), "rate 0.5 gave {failures}/64");
        assert!(a.contains(&Some(ErrorKind::Capacity)));
        assert!(a.contains(&Some(ErrorKind::Transient)));
    }

    #[test]
    fn never_touches_queries_and_extremes_are_exact() {
        let mut always = Chaos::new(ChaosConfig {
            seed: 1,
            failure_rate: 1.0,
            kinds: vec![],
        });
        assert_eq!(always.draw(Op::QueryInstances), None);
        assert_eq!(always.draw(Op::TerminateInstances), None);
        let f = always.draw(Op::Bootstrap).expect("rate 1 always fails");
        assert_eq!(f.kind, ErrorKind::Capacity);
        let mut never = Chaos::new(ChaosConfig {
            seed: 1,
            failure_rate: 0.0,
            kinds: vec![ErrorKind::Quota],
        });
        assert!((0..100).all(|_| never.draw(Op::RunInstances).is_none()));
    }
}
