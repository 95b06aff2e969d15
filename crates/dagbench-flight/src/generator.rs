//! The constructive sequence generator of delay-model.md §1. No
//! retry-until-valid loop: a backward-reachability DP over airborne totals
//! guarantees that every route it walks can be closed inside the day, and the
//! timings are fitted within bounds that always admit a solution.
//!
//! Every sequence draws from its own stream, keyed by (seed, sequence id), so
//! the output does not depend on generation order or thread count.

use dagbench_core::SequenceId;
use dagbench_core::rng::{SplitMix64, fnv1a64, mix64};

use crate::airports::{Airports, calculate_flight_duration, haversine_km};
use crate::sequence::{
    FIRST_GATE_OPEN, FLIGHTS_PER_DAY, Flight, GATE_TO_TAKEOFF, LAST_LANDING, Sequence, TURNAROUND,
};

/// Choices the rules leave open.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorOptions {
    /// Legs shorter than this are never flown (no same-city hops).
    pub min_leg_km: f64,
    /// Whether a day may pass through home before its last landing.
    pub allow_home_visits: bool,
    /// Home airports to draw from (IATA codes); `None` = every airport that
    /// admits a valid day.
    pub homes: Option<Vec<String>>,
    /// Airports each home base serves besides itself, drawn per (seed, home)
    /// with nearer airports more likely (regional realism; it also keeps
    /// the reachability DP small). 0 = every airport.
    pub network_size: usize,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        Self {
            min_leg_km: 150.0,
            allow_home_visits: true,
            homes: None,
            network_size: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("home airport {0} is not in the airports table")]
    UnknownHome(String),
    #[error("no valid daily sequence starts and ends at {0} with these airports and options")]
    InfeasibleHome(String),
    #[error("no airport admits a valid daily sequence with these airports and options")]
    NoFeasibleHome,
}

/// Salt that separates the generator's streams from the delay model's draws
/// (both are keyed by seed and sequence id).
const GENERATOR_SALT: u64 = 0x5EED_5EED_0F0F_1A7E;
const NETWORK_SALT: u64 = 0x4E37_0000_A1B2_C3D4;

/// Largest total airborne minutes of any day (k = 2): 1379 − (90·2 − 5).
const MAX_AIRBORNE: u32 = *LAST_LANDING.end() + 5 - 90 * 2;
const WORDS: usize = (MAX_AIRBORNE as usize) / 64 + 1;
/// Fewest and most overhead minutes (gate opens, gate-to-takeoff, turnarounds) for k flights.
fn overhead_range(k: u32) -> (u32, u32) {
    let lo = FIRST_GATE_OPEN.start() + k * GATE_TO_TAKEOFF.start() + (k - 1) * TURNAROUND.start();
    let hi = FIRST_GATE_OPEN.end() + k * GATE_TO_TAKEOFF.end() + (k - 1) * TURNAROUND.end();
    (lo, hi)
}

/// Window of total airborne minutes that a k-flight day can hold.
fn airborne_window(k: u32) -> (u32, u32) {
    let (o_lo, o_hi) = overhead_range(k);
    (
        LAST_LANDING.start().saturating_sub(o_hi),
        LAST_LANDING.end() - o_lo,
    )
}

/// The airborne totals for which timings drawn independently and uniformly
/// (mean overhead) land the last flight well inside the landing window, so
/// the day keeps its natural slack; the walk prefers them when it can.
fn comfortable_window(k: u32) -> (u32, u32) {
    let (o_lo, o_hi) = overhead_range(k);
    let mean_overhead = (o_lo + o_hi) / 2;
    let margin = 30;
    let (lo, hi) = airborne_window(k);
    let c_lo = (LAST_LANDING.start() + margin)
        .saturating_sub(mean_overhead)
        .max(lo);
    let c_hi = (LAST_LANDING.end() - margin)
        .saturating_sub(mean_overhead)
        .min(hi);
    if c_lo <= c_hi { (c_lo, c_hi) } else { (lo, hi) }
}

/// Airborne minutes between every ordered pair of a set of airports (its
/// nodes); 0 marks a leg never flown.
struct LegTable {
    n: usize,
    minutes: Vec<u16>,
    /// Node → airport index.
    airport: Vec<usize>,
}

impl LegTable {
    fn new(airports: &Airports, min_leg_km: f64) -> Self {
        let n = airports.len();
        let mut minutes = vec![0u16; n * n];
        for x in 0..n {
            for y in 0..n {
                let (a, b) = (airports.get(x), airports.get(y));
                if x != y && haversine_km(a, b) >= min_leg_km {
                    let t = calculate_flight_duration(a, b);
                    if (1..=MAX_AIRBORNE).contains(&t) {
                        minutes[x * n + y] = t as u16;
                    }
                }
            }
        }
        Self {
            n,
            minutes,
            airport: (0..n).collect(),
        }
    }

    /// The network of `home` (node 0): `size` other airports drawn without
    /// replacement, weight `2^24 / (minutes from home + 120)` (airports not
    /// reachable in one leg weigh as the farthest), or all when `size` is 0
    /// or covers them.
    fn network(&self, home: usize, size: usize, rng: &mut SplitMix64) -> LegTable {
        let mut others: Vec<usize> = (0..self.n).filter(|&y| y != home).collect();
        let mut chosen = vec![home];
        if size == 0 || size >= others.len() {
            chosen.extend(others);
        } else {
            let weight = |y: usize| {
                let t = match self.get(home, y) {
                    0 => MAX_AIRBORNE,
                    t => t,
                };
                (1u64 << 24) / (u64::from(t) + 120)
            };
            let mut weights: Vec<u64> = others.iter().map(|&y| weight(y)).collect();
            let mut total: u64 = weights.iter().sum();
            for _ in 0..size {
                let mut pick = rng.below(total);
                let mut i = 0;
                while pick >= weights[i] {
                    pick -= weights[i];
                    i += 1;
                }
                chosen.push(others.swap_remove(i));
                total -= weights.swap_remove(i);
            }
        }
        let m = chosen.len();
        let mut minutes = vec![0u16; m * m];
        for (i, &x) in chosen.iter().enumerate() {
            for (j, &y) in chosen.iter().enumerate() {
                minutes[i * m + j] = self.minutes[x * self.n + y];
            }
        }
        LegTable {
            n: m,
            minutes,
            airport: chosen,
        }
    }

    #[inline]
    fn get(&self, x: usize, y: usize) -> u32 {
        u32::from(self.minutes[x * self.n + y])
    }
}

/// Backward reachability for one home: `reach[r][x]` is the set of total
/// airborne minutes of r-leg walks from x that end at home.
struct Reach {
    home: usize,
    n: usize,
    /// `layers[r]` holds n bitsets of `WORDS` words.
    layers: Vec<Vec<u64>>,
}

impl Reach {
    fn new(legs: &LegTable, home: usize, allow_home_visits: bool, max_r: usize) -> Self {
        let n = legs.n;
        let mut layers = Vec::with_capacity(max_r + 1);
        let mut base = vec![0u64; n * WORDS];
        base[home * WORDS] = 1;
        layers.push(base);
        for r in 1..=max_r {
            let prev = &layers[r - 1];
            let mut next = vec![0u64; n * WORDS];
            for x in 0..n {
                let dst = &mut next[x * WORDS..(x + 1) * WORDS];
                for y in 0..n {
                    let t = legs.get(x, y);
                    // A walk with r-1 legs left may only sit at home when
                    // it is the end (r-1 = 0) or home visits are allowed.
                    if t == 0 || (y == home && r > 1 && !allow_home_visits) {
                        continue;
                    }
                    shift_or(dst, &prev[y * WORDS..(y + 1) * WORDS], t as usize);
                }
            }
            layers.push(next);
        }
        Self { home, n, layers }
    }

    fn set(&self, r: usize, x: usize) -> &[u64] {
        debug_assert!(x < self.n);
        &self.layers[r][x * WORDS..(x + 1) * WORDS]
    }
}

/// `dst |= src << shift` over bitsets of `WORDS` words (bits past the end drop).
#[inline]
fn shift_or(dst: &mut [u64], src: &[u64], shift: usize) {
    let (words, bits) = (shift / 64, shift % 64);
    if words >= WORDS {
        return;
    }
    if bits == 0 {
        for i in words..WORDS {
            dst[i] |= src[i - words];
        }
    } else {
        dst[words] |= src[0] << bits;
        for i in words + 1..WORDS {
            dst[i] |= (src[i - words] << bits) | (src[i - words - 1] >> (64 - bits));
        }
    }
}

/// Whether any value in `lo..=hi` is in the set.
fn any_in(set: &[u64], lo: i64, hi: i64) -> bool {
    let lo = lo.max(0);
    let hi = hi.min(MAX_AIRBORNE as i64);
    if lo > hi {
        return false;
    }
    let (lo, hi) = (lo as usize, hi as usize);
    let (lw, hw) = (lo / 64, hi / 64);
    for (w, &word) in set.iter().enumerate().take(hw + 1).skip(lw) {
        let mut word = word;
        if w == lw {
            word &= u64::MAX << (lo % 64);
        }
        if w == hw && hi % 64 != 63 {
            word &= (1u64 << (hi % 64 + 1)) - 1;
        }
        if word != 0 {
            return true;
        }
    }
    false
}

/// The stream of sequence `id` under `seed`.
fn sequence_rng(seed: u64, id: SequenceId) -> SplitMix64 {
    let key = mix64(mix64(seed) ^ fnv1a64(id.0.to_string().as_bytes()));
    SplitMix64::new(mix64(key ^ GENERATOR_SALT))
}

/// The stream that draws the network of `home` under `seed`.
fn network_rng(seed: u64, home: &str) -> SplitMix64 {
    SplitMix64::new(mix64(mix64(seed ^ NETWORK_SALT) ^ fnv1a64(home.as_bytes())))
}

/// Generates `count` sequences with ids `1..=count`.
pub fn generate_aircraft_daily_sequences(
    count: u32,
    seed: u64,
    airports: &Airports,
    options: &GeneratorOptions,
) -> Result<Vec<Sequence>, GenerateError> {
    let legs = LegTable::new(airports, options.min_leg_km);
    let max_k = *FLIGHTS_PER_DAY.end();
    // Candidate homes and, lazily per home, its reachability (the DP needs
    // one layer less than the longest day for all airports).
    let explicit = options.homes.is_some();
    let candidates: Vec<usize> = match &options.homes {
        Some(list) => list
            .iter()
            .map(|iata| {
                airports
                    .index_of(iata)
                    .ok_or_else(|| GenerateError::UnknownHome(iata.clone()))
            })
            .collect::<Result<_, _>>()?,
        None => (0..airports.len()).collect(),
    };
    // Draw every sequence's home first, then build one home at a time so a
    // single DP lives in memory.
    let mut rngs: Vec<SplitMix64> = (1..=count)
        .map(|id| sequence_rng(seed, SequenceId(id)))
        .collect();
    // Network and reachability per home, built once on first use; `None` =
    // infeasible.
    let mut reach: Vec<Option<Option<(LegTable, Reach)>>> =
        (0..airports.len()).map(|_| None).collect();
    let mut homes_in_use: Vec<Vec<usize>> = vec![Vec::new(); airports.len()];
    let mut pool = candidates;
    for (i, rng) in rngs.iter_mut().enumerate() {
        loop {
            if pool.is_empty() {
                return Err(GenerateError::NoFeasibleHome);
            }
            let pick = rng.below(pool.len() as u64) as usize;
            let home = pool[pick];
            let built = reach[home].get_or_insert_with(|| {
                let mut rng = network_rng(seed, &airports.get(home).iata);
                let network = legs.network(home, options.network_size, &mut rng);
                let r = Reach::new(&network, 0, options.allow_home_visits, max_k - 1);
                let feasible = feasible_ks(&network, &r).next().is_some();
                feasible.then_some((network, r))
            });
            if built.is_some() {
                homes_in_use[home].push(i);
                break;
            }
            if explicit {
                return Err(GenerateError::InfeasibleHome(
                    airports.get(home).iata.clone(),
                ));
            }
            // An infeasible airport leaves the pool for good: bounded work.
            pool.swap_remove(pick);
            pool.sort_unstable();
        }
    }
    let mut out: Vec<Option<Sequence>> = vec![None; count as usize];
    for (home, members) in homes_in_use.iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        let (network, reach) = reach[home]
            .take()
            .flatten()
            .expect("homes in use are feasible");
        for &i in members {
            let id = SequenceId(i as u32 + 1);
            out[i] = Some(build_sequence(
                id,
                &network,
                &reach,
                airports,
                &mut rngs[i],
                options,
            ));
        }
    }
    Ok(out
        .into_iter()
        .map(|s| s.expect("every sequence was built"))
        .collect())
}

/// The numbers of flights for which the home admits a day.
fn feasible_ks<'a>(legs: &'a LegTable, reach: &'a Reach) -> impl Iterator<Item = usize> + 'a {
    FLIGHTS_PER_DAY.filter(move |&k| {
        first_leg_candidates(legs, reach, k, 0, reach.home)
            .next()
            .is_some()
    })
}

/// Next airports y from x with `left` legs still to fly after this one,
/// having flown `acc` minutes, such that the day can still close in the window.
fn first_leg_candidates<'a>(
    legs: &'a LegTable,
    reach: &'a Reach,
    k: usize,
    acc: u32,
    x: usize,
) -> impl Iterator<Item = (usize, u32)> + 'a {
    let (lo, hi) = airborne_window(k as u32);
    let left = k - 1;
    candidates(legs, reach, left, acc, x, lo, hi)
}

fn candidates<'a>(
    legs: &'a LegTable,
    reach: &'a Reach,
    left: usize,
    acc: u32,
    x: usize,
    lo: u32,
    hi: u32,
) -> impl Iterator<Item = (usize, u32)> + 'a {
    (0..legs.n).filter_map(move |y| {
        let t = legs.get(x, y);
        if t == 0 {
            return None;
        }
        let base = i64::from(acc) + i64::from(t);
        any_in(
            reach.set(left, y),
            i64::from(lo) - base,
            i64::from(hi) - base,
        )
        .then_some((y, t))
    })
}

fn build_sequence(
    id: SequenceId,
    legs: &LegTable,
    reach: &Reach,
    airports: &Airports,
    rng: &mut SplitMix64,
    options: &GeneratorOptions,
) -> Sequence {
    let home = reach.home;
    // k: the first feasible in a random order of 2..=8.
    let mut ks: Vec<usize> = FLIGHTS_PER_DAY.collect();
    for i in (1..ks.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ks.swap(i, j);
    }
    let k = ks
        .into_iter()
        .find(|&k| {
            first_leg_candidates(legs, reach, k, 0, home)
                .next()
                .is_some()
        })
        .expect("the home was checked feasible");
    let (lo, hi) = airborne_window(k as u32);
    let (in_lo, in_hi) = comfortable_window(k as u32);

    let mut route = vec![home];
    let mut acc = 0u32;
    let mut x = home;
    let mut scratch: Vec<(usize, u32)> = Vec::new();
    for step in 0..k {
        let left = k - step - 1;
        scratch.clear();
        scratch.extend(
            candidates(legs, reach, left, acc, x, in_lo, in_hi)
                .filter(|&(y, _)| options.allow_home_visits || left == 0 || y != home),
        );
        if scratch.is_empty() {
            scratch.extend(
                candidates(legs, reach, left, acc, x, lo, hi)
                    .filter(|&(y, _)| options.allow_home_visits || left == 0 || y != home),
            );
        }
        // The DP guarantees a continuation; regional realism: shorter legs
        // weigh more.
        let weights: Vec<u64> = scratch
            .iter()
            .map(|&(_, t)| (1u64 << 24) / (u64::from(t) + 60))
            .collect();
        let total: u64 = weights.iter().sum();
        let mut pick = rng.below(total);
        let mut chosen = scratch[scratch.len() - 1];
        for (c, &w) in scratch.iter().zip(&weights) {
            if pick < w {
                chosen = *c;
                break;
            }
            pick -= w;
        }
        acc += chosen.1;
        x = chosen.0;
        route.push(x);
    }
    debug_assert_eq!(x, home);
    debug_assert!((lo..=hi).contains(&acc));

    let timings = fit_timings(k, acc, rng);
    let mut flights = Vec::with_capacity(k);
    let mut clock = timings.first_gate_open;
    for leg in 0..k {
        let (from, to) = (route[leg], route[leg + 1]);
        if leg > 0 {
            clock += timings.turnarounds[leg - 1];
        }
        let gate_open = clock;
        let takeoff = gate_open + timings.gate_to_takeoff[leg];
        let arrival = takeoff + legs.get(from, to);
        clock = arrival;
        flights.push(Flight {
            flight_no: Sequence::flight_no_for(id, leg + 1),
            origin: airports.get(legs.airport[from]).iata.clone(),
            destination: airports.get(legs.airport[to]).iata.clone(),
            gate_open,
            takeoff,
            arrival,
        });
    }
    Sequence {
        sequence_id: id,
        home: airports.get(legs.airport[home]).iata.clone(),
        aircraft_id: Sequence::aircraft_id_for(id),
        flights,
    }
}

struct Timings {
    first_gate_open: u32,
    gate_to_takeoff: Vec<u32>,
    turnarounds: Vec<u32>,
}

/// Timings whose last landing (`overhead + airborne`) falls in the window:
/// a few independent uniform draws, else sequential bounded draws towards
/// a uniformly chosen feasible overhead.
fn fit_timings(k: usize, airborne: u32, rng: &mut SplitMix64) -> Timings {
    let range = |rng: &mut SplitMix64, r: &std::ops::RangeInclusive<u32>| {
        rng.range_inclusive(u64::from(*r.start()), u64::from(*r.end())) as u32
    };
    for _ in 0..3 {
        let first_gate_open = range(rng, &FIRST_GATE_OPEN);
        let gate_to_takeoff: Vec<u32> = (0..k).map(|_| range(rng, &GATE_TO_TAKEOFF)).collect();
        let turnarounds: Vec<u32> = (1..k).map(|_| range(rng, &TURNAROUND)).collect();
        let landing = first_gate_open
            + gate_to_takeoff.iter().sum::<u32>()
            + turnarounds.iter().sum::<u32>()
            + airborne;
        if LAST_LANDING.contains(&landing) {
            return Timings {
                first_gate_open,
                gate_to_takeoff,
                turnarounds,
            };
        }
    }
    // Bounded fit: pick the overhead, then each variable (in random order)
    // uniform within what the others can still make up.
    let (o_lo, o_hi) = overhead_range(k as u32);
    let lo = o_lo.max(LAST_LANDING.start().saturating_sub(airborne));
    let hi = o_hi.min(LAST_LANDING.end() - airborne);
    let mut remaining = rng.range_inclusive(u64::from(lo), u64::from(hi)) as u32;
    let bounds: Vec<(u32, u32)> =
        std::iter::once((*FIRST_GATE_OPEN.start(), *FIRST_GATE_OPEN.end()))
            .chain((0..k).map(|_| (*GATE_TO_TAKEOFF.start(), *GATE_TO_TAKEOFF.end())))
            .chain((1..k).map(|_| (*TURNAROUND.start(), *TURNAROUND.end())))
            .collect();
    let mut order: Vec<usize> = (0..bounds.len()).collect();
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut values = vec![0u32; bounds.len()];
    let (mut rest_lo, mut rest_hi): (u32, u32) = (
        bounds.iter().map(|b| b.0).sum(),
        bounds.iter().map(|b| b.1).sum(),
    );
    for &v in &order {
        let (b_lo, b_hi) = bounds[v];
        rest_lo -= b_lo;
        rest_hi -= b_hi;
        let v_lo = b_lo.max(remaining.saturating_sub(rest_hi));
        let v_hi = b_hi.min(remaining - rest_lo);
        let value = rng.range_inclusive(u64::from(v_lo), u64::from(v_hi)) as u32;
        values[v] = value;
        remaining -= value;
    }
    debug_assert_eq!(remaining, 0);
    Timings {
        first_gate_open: values[0],
        gate_to_takeoff: values[1..=k].to_vec(),
        turnarounds: values[k + 1..].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_match_the_spec() {
        // k = 2 needs long-haul (F 581..1204), k = 8 short hops (F ≤ 664).
        assert_eq!(airborne_window(2), (581, 1204));
        assert_eq!(airborne_window(8).1, 664);
        assert_eq!(overhead_range(3), (265, 530));
    }

    #[test]
    fn bitset_helpers() {
        let mut set = vec![0u64; WORDS];
        let mut one = vec![0u64; WORDS];
        one[0] = 1;
        shift_or(&mut set, &one, 130);
        shift_or(&mut set, &one, 64);
        assert!(any_in(&set, 130, 130));
        assert!(any_in(&set, 64, 64));
        assert!(!any_in(&set, 65, 129));
        assert!(any_in(&set, -10, 64));
        assert!(!any_in(&set, 131, 5000));
        shift_or(&mut set, &one, MAX_AIRBORNE as usize);
        assert!(any_in(&set, 1000, 2000));
    }
}
