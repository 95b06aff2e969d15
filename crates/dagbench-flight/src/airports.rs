//! Airports and flight times. The default table (248 airports, see
//! `data/airports.SOURCE.md` for source and licence) is embedded; a user can
//! pass a CSV with the same header instead.

use std::collections::HashMap;

/// The embedded airports table.
pub const DEFAULT_AIRPORTS_CSV: &str = include_str!("../data/airports.csv");
/// The header every airports CSV must have.
pub const HEADER: &str = "iata,name,city,country,lat,lon,tz";

/// Mean Earth radius of the haversine formula, km.
pub const EARTH_RADIUS_KM: f64 = 6371.0;
/// Average block speed of the flight-time rule, km/h.
pub const SPEED_KMH: f64 = 800.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Airport {
    pub iata: String,
    pub name: String,
    pub city: String,
    pub country: String,
    pub lat: f64,
    pub lon: f64,
    pub tz: String,
}

/// A malformed airports file; `line` is 1-based, counting the header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AirportsError {
    #[error("{source_name}: the first line must be `{HEADER}`, found {found:?}")]
    Header { source_name: String, found: String },
    #[error("{source_name}, line {line}: {reason}")]
    Row {
        source_name: String,
        line: usize,
        reason: String,
    },
    #[error("{source_name}: no airports")]
    Empty { source_name: String },
}

/// An airports table, indexed by position and by IATA code.
#[derive(Debug, Clone)]
pub struct Airports {
    airports: Vec<Airport>,
    by_iata: HashMap<String, usize>,
}

impl Airports {
    /// The embedded table.
    pub fn embedded() -> Self {
        Self::parse(DEFAULT_AIRPORTS_CSV, "embedded airports.csv")
            .expect("the embedded table is valid")
    }

    /// Parses an airports CSV; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, AirportsError> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("").trim_end_matches('\r');
        if header.trim_start_matches('\u{feff}') != HEADER {
            return Err(AirportsError::Header {
                source_name: source_name.to_owned(),
                found: header.to_owned(),
            });
        }
        let mut airports = Vec::new();
        let mut by_iata = HashMap::new();
        for (i, raw) in lines.enumerate() {
            let line = i + 2;
            let row = raw.trim_end_matches('\r');
            if row.trim().is_empty() {
                continue;
            }
            let err = |reason: String| AirportsError::Row {
                source_name: source_name.to_owned(),
                line,
                reason,
            };
            let fields: Vec<&str> = row.split(',').collect();
            if fields.len() != 7 {
                return Err(err(format!(
                    "expected 7 comma-separated fields, found {}",
                    fields.len()
                )));
            }
            let iata = fields[0].trim();
            if iata.len() != 3
                || !iata
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return Err(err(format!(
                    "IATA code {iata:?} is not three capital letters or digits"
                )));
            }
            let coordinate = |name: &str, value: &str, limit: f64| -> Result<f64, AirportsError> {
                let v: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("{name} {value:?} is not a number")))?;
                if !v.is_finite() || v.abs() > limit {
                    return Err(err(format!("{name} {v} is outside -{limit}..={limit}")));
                }
                Ok(v)
            };
            let lat = coordinate("lat", fields[4], 90.0)?;
            let lon = coordinate("lon", fields[5], 180.0)?;
            if by_iata.insert(iata.to_owned(), airports.len()).is_some() {
                return Err(err(format!("IATA code {iata} appears twice")));
            }
            airports.push(Airport {
                iata: iata.to_owned(),
                name: fields[1].trim().to_owned(),
                city: fields[2].trim().to_owned(),
                country: fields[3].trim().to_owned(),
                lat,
                lon,
                tz: fields[6].trim().to_owned(),
            });
        }
        if airports.is_empty() {
            return Err(AirportsError::Empty {
                source_name: source_name.to_owned(),
            });
        }
        Ok(Self { airports, by_iata })
    }

    pub fn len(&self) -> usize {
        self.airports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.airports.is_empty()
    }

    pub fn get(&self, index: usize) -> &Airport {
        &self.airports[index]
    }

    pub fn index_of(&self, iata: &str) -> Option<usize> {
        self.by_iata.get(iata).copied()
    }

    pub fn by_iata(&self, iata: &str) -> Option<&Airport> {
        self.index_of(iata).map(|i| &self.airports[i])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Airport> {
        self.airports.iter()
    }
}

/// Great-circle distance in km (haversine, R = 6371.0 km).
pub fn haversine_km(a: &Airport, b: &Airport) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

/// Whole minutes airborne between two airports at 800 km/h, rounded half
/// up: `floor(km / 800 * 60 + 0.5)`.
pub fn calculate_flight_duration(a: &Airport, b: &Airport) -> u32 {
    minutes_for_km(haversine_km(a, b))
}

/// The flight-time rule applied to a distance.
pub fn minutes_for_km(km: f64) -> u32 {
    (km / SPEED_KMH * 60.0 + 0.5).floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_loads() {
        let airports = Airports::embedded();
        assert_eq!(airports.len(), 248);
        let lhr = airports.by_iata("LHR").unwrap();
        assert_eq!(lhr.country, "GB");
        assert_eq!(lhr.tz, "Europe/London");
    }

    #[test]
    fn known_flight_times() {
        let airports = Airports::embedded();
        let pair = |a: &str, b: &str| {
            let (a, b) = (airports.by_iata(a).unwrap(), airports.by_iata(b).unwrap());
            (haversine_km(a, b), calculate_flight_duration(a, b))
        };
        // LHR–JFK: ~5,540 km great circle; 5540 / 800 * 60 ≈ 415.5 min.
        let (km, minutes) = pair("LHR", "JFK");
        assert!((km - 5540.0).abs() < 15.0, "{km}");
        assert_eq!(minutes, minutes_for_km(km));
        assert!((414..=417).contains(&minutes), "{minutes}");
        // Symmetric, and zero for the same airport.
        assert_eq!(pair("JFK", "LHR").1, minutes);
        assert_eq!(pair("LHR", "LHR"), (0.0, 0));
        // OPO–BCN ~ 900 km: the canonical example's 67 minutes.
        assert_eq!(pair("OPO", "BCN").1, 67);
    }

    #[test]
    fn rounding_is_half_up() {
        // 10 km = 0.75 min → 1; 6.5 km = 0.4875 → 0; 20 km = 1.5 → 2.
        assert_eq!(minutes_for_km(10.0), 1);
        assert_eq!(minutes_for_km(6.5), 0);
        assert_eq!(minutes_for_km(20.0), 2);
    }

    #[track_caller]
    fn check_error(csv: &str, expected: &str) {
        assert_eq!(
            Airports::parse(csv, "my.csv").unwrap_err().to_string(),
            expected
        );
    }

    #[test]
    fn malformed_rows_name_the_line() {
        check_error(
            "iata,name\n",
            "my.csv: the first line must be `iata,name,city,country,lat,lon,tz`, found \"iata,name\"",
        );
        check_error(&format!("{HEADER}\n"), "my.csv: no airports");
        let good = "AAA,A,A,AA,1.0,2.0,UTC";
        check_error(
            &format!("{HEADER}\n{good}\nBBB,B,B,BB,north,2.0,UTC\n"),
            "my.csv, line 3: lat \"north\" is not a number",
        );
        check_error(
            &format!("{HEADER}\n{good}\nBBB,B,B\n"),
            "my.csv, line 3: expected 7 comma-separated fields, found 3",
        );
        check_error(
            &format!("{HEADER}\n{good}\n{good}\n"),
            "my.csv, line 3: IATA code AAA appears twice",
        );
        check_error(
            &format!("{HEADER}\nab,A,A,AA,1,2,UTC\n"),
            "my.csv, line 2: IATA code \"ab\" is not three capital letters or digits",
        );
        check_error(
            &format!("{HEADER}\nAAA,A,A,AA,91,2,UTC\n"),
            "my.csv, line 2: lat 91 is outside -90..=90",
        );
        let ok = Airports::parse(&format!("{HEADER}\r\n{good}\r\n\r\n"), "crlf.csv").unwrap();
        assert_eq!(ok.len(), 1);
    }
}
