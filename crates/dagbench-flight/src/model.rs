//! The delay-propagation kernel of delay-model.md §3: integer minutes,
//! counter-based draws keyed by (run seed, sequence id), exact table
//! sampling. A leg computes the same numbers whether it runs as its own job
//! or inside a whole-sequence job, in any order, on any machine.

use dagbench_core::rng::{GAMMA, fnv1a64, mix64};

use crate::sequence::Sequence;
use crate::tables;

/// Minimum ground time, landing → takeoff: minimum turn (10) + minimum
/// process (80).
pub const MIN_GROUND_TIME: i32 = 90;
/// Arrival at or after 23:00 (minute 1380) breaks the night curfew.
pub const CURFEW: i32 = 1380;
/// Legs 1..=15 fit in the counter's four bits.
pub const MAX_LEGS: u32 = 15;

/// Stream of the primary delay draw.
const STREAM_PRIMARY: u64 = 0;
/// Stream of the en-route deviation draw.
const STREAM_ENROUTE: u64 = 1;

/// The key of one sequence under one run seed; `sequence_key` is the UTF-8
/// of the sequence id in decimal (e.g. `"7"`).
#[inline]
pub fn key(run_seed: u64, sequence_key: &str) -> u64 {
    mix64(mix64(run_seed) ^ fnv1a64(sequence_key.as_bytes()))
}

/// The key of sequence `id` (its decimal form).
pub fn sequence_key(run_seed: u64, id: dagbench_core::SequenceId) -> u64 {
    key(run_seed, &id.0.to_string())
}

/// Draw `stream` of leg `leg` for sample `s`.
#[inline]
pub fn draw(key: u64, s: u32, leg: u32, stream: u64) -> u64 {
    let counter = (u64::from(s) << 6) | (u64::from(leg) << 2) | stream;
    mix64(key.wrapping_add(counter.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// The schedule facts one leg needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegSchedule {
    /// 1-based position in the day.
    pub leg: u32,
    pub takeoff: u32,
    pub landing: u32,
    /// Scheduled landing of the previous leg (`None` for leg 1).
    pub previous_landing: Option<u32>,
}

impl LegSchedule {
    /// `(T_i − L_{i−1}) − MGT` (None for the first leg).
    pub fn slack(&self) -> Option<i32> {
        self.previous_landing
            .map(|prev| (self.takeoff as i32 - prev as i32) - MIN_GROUND_TIME)
    }

    pub fn airborne(&self) -> i32 {
        self.landing as i32 - self.takeoff as i32
    }

    /// The schedules of every leg of a sequence.
    pub fn of_sequence(seq: &Sequence) -> Vec<LegSchedule> {
        seq.flights
            .iter()
            .enumerate()
            .map(|(i, f)| LegSchedule {
                leg: i as u32 + 1,
                takeoff: f.takeoff,
                landing: f.arrival,
                previous_landing: i.checked_sub(1).map(|p| seq.flights[p].arrival),
            })
            .collect()
    }
}

/// A crew connection into a leg: the feeder's arrival delays and the crew
/// slack `(T_receiver − L_feeder) − 30`.
#[derive(Debug, Clone, Copy)]
pub struct Feeder<'a> {
    pub crew_slack: i32,
    pub arrival_delays: &'a [i32],
}

/// The delays of one leg, one entry per sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegDelays {
    pub leg: u32,
    /// `None` for the first leg.
    pub slack: Option<i32>,
    pub dep_delay: Vec<i32>,
    pub arr_delay: Vec<i32>,
    pub primary_delay: Vec<i32>,
    pub propagated_delay: Vec<i32>,
    pub enroute_delta: Vec<i32>,
}

impl LegDelays {
    pub fn samples(&self) -> usize {
        self.arr_delay.len()
    }
}

/// Why a leg cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    #[error("leg {0} is outside 1..=15")]
    LegOutOfRange(u32),
    #[error("leg {leg} needs the previous leg's delays for {expected} samples, got {got}")]
    PreviousMissing {
        leg: u32,
        expected: usize,
        got: usize,
    },
    #[error("a crew feeder of leg {leg} has {got} samples, expected {expected}")]
    FeederSamples {
        leg: u32,
        expected: usize,
        got: usize,
    },
}

/// Computes one leg for samples `0..samples`. `previous_arrival` is the
/// previous leg's `arr_delay` (required from leg 2 on); crew feeders raise
/// the propagated delay (§5).
pub fn compute_leg(
    key: u64,
    schedule: &LegSchedule,
    samples: u32,
    previous_arrival: Option<&[i32]>,
    feeders: &[Feeder<'_>],
) -> Result<LegDelays, KernelError> {
    let leg = schedule.leg;
    if !(1..=MAX_LEGS).contains(&leg) {
        return Err(KernelError::LegOutOfRange(leg));
    }
    let n = samples as usize;
    let slack = schedule.slack();
    let previous = match (slack, previous_arrival) {
        (None, _) => None,
        (Some(_), Some(prev)) if prev.len() == n => Some(prev),
        (Some(_), other) => {
            return Err(KernelError::PreviousMissing {
                leg,
                expected: n,
                got: other.map_or(0, <[i32]>::len),
            });
        }
    };
    for f in feeders {
        if f.arrival_delays.len() != n {
            return Err(KernelError::FeederSamples {
                leg,
                expected: n,
                got: f.arrival_delays.len(),
            });
        }
    }
    let (primary_table, enroute_table) = (tables::primary(), tables::enroute());
    let airborne = i64::from(schedule.airborne());
    let mut out = LegDelays {
        leg,
        slack,
        dep_delay: Vec::with_capacity(n),
        arr_delay: Vec::with_capacity(n),
        primary_delay: Vec::with_capacity(n),
        propagated_delay: Vec::with_capacity(n),
        enroute_delta: Vec::with_capacity(n),
    };
    for s in 0..samples {
        let i = s as usize;
        let mut propagated = match (previous, slack) {
            (Some(prev), Some(slack)) => (prev[i] - slack).max(0),
            _ => 0,
        };
        for f in feeders {
            propagated = propagated.max((f.arrival_delays[i] - f.crew_slack).max(0));
        }
        let primary = primary_table.sample(draw(key, s, leg, STREAM_PRIMARY));
        let permille = enroute_table.sample(draw(key, s, leg, STREAM_ENROUTE));
        let departure = propagated + primary;
        let enroute = (airborne * i64::from(permille) + 500).div_euclid(1000) as i32;
        out.primary_delay.push(primary);
        out.propagated_delay.push(propagated);
        out.dep_delay.push(departure);
        out.enroute_delta.push(enroute);
        out.arr_delay.push(departure + enroute);
    }
    Ok(out)
}

/// Every leg of a sequence at once (no crew feeders).
pub fn compute_sequence(
    key: u64,
    seq: &Sequence,
    samples: u32,
) -> Result<Vec<LegDelays>, KernelError> {
    let mut legs: Vec<LegDelays> = Vec::with_capacity(seq.flights.len());
    for schedule in LegSchedule::of_sequence(seq) {
        let previous = legs.last().map(|l| l.arr_delay.as_slice());
        legs.push(compute_leg(key, &schedule, samples, previous, &[])?);
    }
    Ok(legs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEQ1: &str = "SEQ-1";

    #[test]
    fn published_vectors() {
        let k = key(42, SEQ1);
        assert_eq!(k, 0x8a99_7f80_a196_e445);
        let cases = [
            (0, 1, STREAM_PRIMARY, 0x60ee_6d45_c3ea_2caa_u64, 0),
            (0, 1, STREAM_ENROUTE, 0xd359_e48c_e90b_a781, 37),
            (0, 2, STREAM_PRIMARY, 0xdb64_f8c5_02fd_5f53, 9),
            (999, 8, STREAM_ENROUTE, 0x3060_8e60_3196_737b, -35),
        ];
        for (s, leg, stream, expected_draw, expected_value) in cases {
            let d = draw(k, s, leg, stream);
            assert_eq!(d, expected_draw, "draw({s}, {leg}, {stream})");
            let table = if stream == STREAM_PRIMARY {
                tables::primary()
            } else {
                tables::enroute()
            };
            assert_eq!(table.sample(d), expected_value);
        }
    }

    #[test]
    fn floor_division_rounds_negative_deviations_down() {
        // f = 135, X = -11: (135·-11 + 500) / 1000 = -0.985 → floor -1 (truncation would give 0).
        assert_eq!((135i64 * -11 + 500).div_euclid(1000), -1);
    }

    #[test]
    fn leg_needs_its_inputs() {
        let s2 = LegSchedule {
            leg: 2,
            takeoff: 290,
            landing: 330,
            previous_landing: Some(190),
        };
        assert_eq!(
            compute_leg(1, &s2, 10, None, &[]).unwrap_err().to_string(),
            "leg 2 needs the previous leg's delays for 10 samples, got 0"
        );
        let s16 = LegSchedule { leg: 16, ..s2 };
        assert_eq!(
            compute_leg(1, &s16, 10, Some(&[0; 10]), &[]).unwrap_err(),
            KernelError::LegOutOfRange(16)
        );
        let feeder = Feeder {
            crew_slack: 5,
            arrival_delays: &[0; 3],
        };
        assert_eq!(
            compute_leg(1, &s2, 10, Some(&[0; 10]), &[feeder])
                .unwrap_err()
                .to_string(),
            "a crew feeder of leg 2 has 3 samples, expected 10"
        );
    }
}
