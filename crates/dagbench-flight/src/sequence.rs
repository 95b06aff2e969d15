//! Aircraft daily sequences: the schedule of one aircraft for one day, its
//! canonical JSON (compatible with the original system's
//! `sequences/sequence_<id>.json`), and the rules every sequence obeys
//! (delay-model.md §1).

use std::fmt;

use dagbench_core::SequenceId;
use serde::{Deserialize, Serialize};

use crate::airports::{Airports, calculate_flight_duration};

/// First gate open at home, minutes after local midnight (00:05–02:00).
pub const FIRST_GATE_OPEN: std::ops::RangeInclusive<u32> = 5..=120;
/// Takeoff after gate open, minutes.
pub const GATE_TO_TAKEOFF: std::ops::RangeInclusive<u32> = 80..=110;
/// Next gate open after landing, minutes.
pub const TURNAROUND: std::ops::RangeInclusive<u32> = 10..=40;
/// Flights per day.
pub const FLIGHTS_PER_DAY: std::ops::RangeInclusive<usize> = 2..=8;
/// The last flight lands at home strictly after 16:00 and before 23:00.
pub const LAST_LANDING: std::ops::RangeInclusive<u32> = 961..=1379;
/// Minutes in a day: every time is below this.
pub const DAY_MINUTES: u32 = 1440;

/// One flight of a sequence; times are whole minutes after home-local midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flight {
    pub flight_no: String,
    pub origin: String,
    pub destination: String,
    pub gate_open: u32,
    pub takeoff: u32,
    pub arrival: u32,
}

impl Flight {
    pub fn airborne(&self) -> u32 {
        self.arrival - self.takeoff
    }
}

/// One aircraft's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub sequence_id: SequenceId,
    pub home: String,
    pub aircraft_id: String,
    pub flights: Vec<Flight>,
}

impl Sequence {
    /// `AC0007` for sequence 7.
    pub fn aircraft_id_for(id: SequenceId) -> String {
        format!("AC{:04}", id.0)
    }

    /// `DB0701` for sequence 7, leg 1.
    pub fn flight_no_for(id: SequenceId, leg: usize) -> String {
        format!("DB{:02}{leg:02}", id.0)
    }

    /// Scheduled landing of the last flight.
    pub fn last_landing(&self) -> u32 {
        self.flights.last().map_or(0, |f| f.arrival)
    }
}

/// Which rule a sequence breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    FlightsPerDay,
    StartsAtHome,
    FirstGateOpen,
    GateToTakeoff,
    FlightTime,
    Turnaround,
    Connected,
    DistinctAirports,
    EndsAtHome,
    LastLanding,
    WithinDay,
    KnownAirport,
    WholeMinutes,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::FlightsPerDay => "2 to 8 flights per day",
            Rule::StartsAtHome => "the first flight departs from home",
            Rule::FirstGateOpen => "the first gate opens 00:05–02:00",
            Rule::GateToTakeoff => "takeoff 80–110 min after gate open",
            Rule::FlightTime => "flight time = haversine distance at 800 km/h, rounded half up",
            Rule::Turnaround => "the next gate opens 10–40 min after landing",
            Rule::Connected => "each flight departs where the previous one landed",
            Rule::DistinctAirports => "origin and destination differ",
            Rule::EndsAtHome => "the last flight lands at home",
            Rule::LastLanding => "the last flight lands after 16:00 and before 23:00",
            Rule::WithinDay => "every time lies within the day, strictly increasing",
            Rule::KnownAirport => "airports are in the airports table",
            Rule::WholeMinutes => "times are whole minutes (HH:MM:00)",
        })
    }
}

/// A sequence that breaks a rule: names the sequence, the flight and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sequence {sequence_id}{}: {detail} (rule: {rule})", flight.as_ref().map(|f| format!(", flight {f}")).unwrap_or_default())]
pub struct RuleViolation {
    pub sequence_id: SequenceId,
    pub flight: Option<String>,
    pub rule: Rule,
    pub detail: String,
}

/// Checks every rule of §1 against `airports`.
pub fn check_rules(seq: &Sequence, airports: &Airports) -> Result<(), RuleViolation> {
    let fail = |flight: Option<&Flight>, rule: Rule, detail: String| RuleViolation {
        sequence_id: seq.sequence_id,
        flight: flight.map(|f| f.flight_no.clone()),
        rule,
        detail,
    };
    let k = seq.flights.len();
    if !FLIGHTS_PER_DAY.contains(&k) {
        return Err(fail(None, Rule::FlightsPerDay, format!("{k} flights")));
    }
    if airports.by_iata(&seq.home).is_none() {
        return Err(fail(
            None,
            Rule::KnownAirport,
            format!("home airport {} is unknown", seq.home),
        ));
    }
    let mut previous: Option<&Flight> = None;
    for flight in &seq.flights {
        let f = Some(flight);
        for iata in [&flight.origin, &flight.destination] {
            if airports.by_iata(iata).is_none() {
                return Err(fail(
                    f,
                    Rule::KnownAirport,
                    format!("airport {iata} is unknown"),
                ));
            }
        }
        if flight.origin == flight.destination {
            return Err(fail(
                f,
                Rule::DistinctAirports,
                format!("{} to itself", flight.origin),
            ));
        }
        match previous {
            None => {
                if flight.origin != seq.home {
                    return Err(fail(
                        f,
                        Rule::StartsAtHome,
                        format!("departs from {}, home is {}", flight.origin, seq.home),
                    ));
                }
                if !FIRST_GATE_OPEN.contains(&flight.gate_open) {
                    return Err(fail(
                        f,
                        Rule::FirstGateOpen,
                        format!("gate opens at {}", hhmm(flight.gate_open)),
                    ));
                }
            }
            Some(prev) => {
                if flight.origin != prev.destination {
                    return Err(fail(
                        f,
                        Rule::Connected,
                        format!(
                            "departs from {}, the previous flight landed at {}",
                            flight.origin, prev.destination
                        ),
                    ));
                }
                if flight.gate_open <= prev.arrival {
                    return Err(fail(
                        f,
                        Rule::WithinDay,
                        format!(
                            "gate opens at {}, not after the previous landing at {}",
                            hhmm(flight.gate_open),
                            hhmm(prev.arrival)
                        ),
                    ));
                }
                let turn = flight.gate_open - prev.arrival;
                if !TURNAROUND.contains(&turn) {
                    return Err(fail(
                        f,
                        Rule::Turnaround,
                        format!("gate opens {turn} min after landing"),
                    ));
                }
            }
        }
        if flight.takeoff <= flight.gate_open
            || flight.arrival <= flight.takeoff
            || flight.arrival >= DAY_MINUTES
        {
            return Err(fail(
                f,
                Rule::WithinDay,
                format!(
                    "gate open {}, takeoff {}, arrival {}",
                    hhmm(flight.gate_open),
                    hhmm(flight.takeoff),
                    hhmm(flight.arrival)
                ),
            ));
        }
        let to_takeoff = flight.takeoff - flight.gate_open;
        if !GATE_TO_TAKEOFF.contains(&to_takeoff) {
            return Err(fail(
                f,
                Rule::GateToTakeoff,
                format!("takeoff {to_takeoff} min after gate open"),
            ));
        }
        let expected = calculate_flight_duration(
            airports.by_iata(&flight.origin).expect("checked above"),
            airports
                .by_iata(&flight.destination)
                .expect("checked above"),
        );
        if flight.airborne() != expected {
            return Err(fail(
                f,
                Rule::FlightTime,
                format!(
                    "{}–{} takes {} min, expected {expected}",
                    flight.origin,
                    flight.destination,
                    flight.airborne()
                ),
            ));
        }
        previous = f;
    }
    let last = seq.flights.last().expect("at least two flights");
    if last.destination != seq.home {
        return Err(fail(
            Some(last),
            Rule::EndsAtHome,
            format!("lands at {}, home is {}", last.destination, seq.home),
        ));
    }
    if !LAST_LANDING.contains(&last.arrival) {
        return Err(fail(
            Some(last),
            Rule::LastLanding,
            format!("lands at {}", hhmm(last.arrival)),
        ));
    }
    Ok(())
}

/// `"HH:MM"` for messages.
fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `"HH:MM:00"`, the canonical JSON's time format.
pub fn format_time(minutes: u32) -> String {
    format!("{:02}:{:02}:00", minutes / 60, minutes % 60)
}

/// Parses `"HH:MM:SS"` into minutes; seconds must be zero.
pub fn parse_time(text: &str) -> Result<u32, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let [h, m, s] = parts.as_slice() else {
        return Err(format!("time {text:?} is not HH:MM:SS"));
    };
    let number = |p: &str, max: u32| -> Result<u32, String> {
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("time {text:?} is not HH:MM:SS"));
        }
        let v: u32 = p.parse().expect("two digits");
        if v > max {
            return Err(format!("time {text:?} is not HH:MM:SS"));
        }
        Ok(v)
    };
    let (h, m, s) = (number(h, 23)?, number(m, 59)?, number(s, 59)?);
    if s != 0 {
        return Err(format!(
            "time {text:?} has seconds; times are whole minutes"
        ));
    }
    Ok(h * 60 + m)
}

/// The canonical JSON of a sequence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceJson {
    pub sequence_id: SequenceId,
    pub home_airport_iata: String,
    pub aircraft_id: String,
    pub routes: Vec<RouteJson>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteJson {
    pub flight_no: String,
    pub origin_iata: String,
    pub destination_iata: String,
    pub estimated_gate_open_time: String,
    pub estimated_takeoff_time: String,
    pub estimated_arrival_time: String,
}

/// A sequence file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceFileError {
    #[error("not a sequence file: {0}")]
    Json(String),
    #[error(
        "sequence {sequence_id}, flight {flight}: {reason} (rule: {})",
        Rule::WholeMinutes
    )]
    Time {
        sequence_id: SequenceId,
        flight: String,
        reason: String,
    },
    #[error(transparent)]
    Rule(#[from] RuleViolation),
}

impl From<&Sequence> for SequenceJson {
    fn from(seq: &Sequence) -> Self {
        SequenceJson {
            sequence_id: seq.sequence_id,
            home_airport_iata: seq.home.clone(),
            aircraft_id: seq.aircraft_id.clone(),
            routes: seq
                .flights
                .iter()
                .map(|f| RouteJson {
                    flight_no: f.flight_no.clone(),
                    origin_iata: f.origin.clone(),
                    destination_iata: f.destination.clone(),
                    estimated_gate_open_time: format_time(f.gate_open),
                    estimated_takeoff_time: format_time(f.takeoff),
                    estimated_arrival_time: format_time(f.arrival),
                })
                .collect(),
        }
    }
}

impl SequenceJson {
    /// Converts to a [`Sequence`] (times parsed), without checking rules.
    pub fn to_sequence(&self) -> Result<Sequence, SequenceFileError> {
        let flights = self
            .routes
            .iter()
            .map(|r| {
                let time = |t: &str| {
                    parse_time(t).map_err(|reason| SequenceFileError::Time {
                        sequence_id: self.sequence_id,
                        flight: r.flight_no.clone(),
                        reason,
                    })
                };
                Ok(Flight {
                    flight_no: r.flight_no.clone(),
                    origin: r.origin_iata.clone(),
                    destination: r.destination_iata.clone(),
                    gate_open: time(&r.estimated_gate_open_time)?,
                    takeoff: time(&r.estimated_takeoff_time)?,
                    arrival: time(&r.estimated_arrival_time)?,
                })
            })
            .collect::<Result<Vec<_>, SequenceFileError>>()?;
        Ok(Sequence {
            sequence_id: self.sequence_id,
            home: self.home_airport_iata.clone(),
            aircraft_id: self.aircraft_id.clone(),
            flights,
        })
    }
}

impl Sequence {
    /// Canonical JSON, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&SequenceJson::from(self)).expect("sequences serialize")
    }

    /// Reads a sequence file and checks every rule against `airports`.
    pub fn from_json(bytes: &[u8], airports: &Airports) -> Result<Sequence, SequenceFileError> {
        let json: SequenceJson =
            serde_json::from_slice(bytes).map_err(|e| SequenceFileError::Json(e.to_string()))?;
        let seq = json.to_sequence()?;
        check_rules(&seq, airports)?;
        Ok(seq)
    }
}
