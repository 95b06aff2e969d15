//! Where a run's jobs are processed: one closed set, named the same way in
//! `report.json`, on the command line, in cost estimates and in stack names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The architecture a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scenario {
    /// This machine: the embedded queue, SQLite ledger and local disk.
    #[serde(rename = "local")]
    Local,
    /// Scenario 1, `scenario-1-{env}`: SQS → Lambda → S3 (+ DynamoDB).
    #[serde(rename = "scenario-1")]
    Lambda,
    /// Scenario 2, `scenario-2-{env}`: SQS → ECS Fargate pollers → S3 (+ DynamoDB).
    #[serde(rename = "scenario-2")]
    Fargate,
    /// Scenario 3, `scenario-3-{env}`: Step Functions releases the jobs
    /// (no scheduler queue), processors behind it finish their tasks.
    #[serde(rename = "scenario-3")]
    StepFunctions,
}

impl Scenario {
    /// Every scenario, local first.
    pub const ALL: [Scenario; 4] = [
        Scenario::Local,
        Scenario::Lambda,
        Scenario::Fargate,
        Scenario::StepFunctions,
    ];
    /// The scenarios that run on AWS.
    pub const CLOUD: [Scenario; 3] = [Scenario::Lambda, Scenario::Fargate, Scenario::StepFunctions];

    /// Its name in `report.json` and cost estimates: `local`, `scenario-1`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Local => "local",
            Scenario::Lambda => "scenario-1",
            Scenario::Fargate => "scenario-2",
            Scenario::StepFunctions => "scenario-3",
        }
    }

    /// What the command line calls it: `local`, `1`, `2`.
    pub fn flag(self) -> &'static str {
        match self {
            Scenario::Local => "local",
            Scenario::Lambda => "1",
            Scenario::Fargate => "2",
            Scenario::StepFunctions => "3",
        }
    }

    /// The processors, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Scenario::Local => "local worker pool",
            Scenario::Lambda => "SQS -> Lambda",
            Scenario::Fargate => "SQS -> ECS Fargate",
            Scenario::StepFunctions => "Step Functions",
        }
    }

    /// Whether it runs on AWS (a deployed stack).
    pub fn is_cloud(self) -> bool {
        self != Scenario::Local
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario `{0}`: expected local, 1 (Lambda), 2 (Fargate) or 3 (Step Functions)")]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Scenario::Local),
            "1" | "scenario-1" => Ok(Scenario::Lambda),
            "2" | "scenario-2" => Ok(Scenario::Fargate),
            "3" | "scenario-3" => Ok(Scenario::StepFunctions),
            other => Err(UnknownScenario(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for s in Scenario::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.as_str().parse::<Scenario>().unwrap(), s);
            assert_eq!(s.flag().parse::<Scenario>().unwrap(), s);
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(
            "4".parse::<Scenario>().unwrap_err().to_string(),
            "unknown scenario `4`: expected local, 1 (Lambda), 2 (Fargate) or 3 (Step Functions)"
        );
        assert!(!Scenario::Local.is_cloud());
        assert!(Scenario::CLOUD.iter().all(|s| s.is_cloud()));
    }
}
