//! Stack and resource names: those of the source document, which users'
//! dashboards and scripts depend on. One place, so the templates, the deploy
//! code and the docs cannot drift apart.

use std::fmt;
use std::str::FromStr;

use dagbench_core::Scenario;

/// A stack dagbench deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StackKind {
    /// `dagbench-bootstrap-{env}`: the assets bucket and the ECR repository.
    Bootstrap,
    /// `perf-shared-{env}`: the VPC Scenario 2's tasks run in.
    Shared,
    /// `scenario-1-{env}`: SQS → Lambda → S3.
    Scenario1,
    /// `scenario-2-{env}`: SQS → ECS Fargate → S3.
    Scenario2,
    /// `scenario-3-{env}`: Step Functions → Lambda or SQS → S3.
    Scenario3,
}

impl StackKind {
    /// Every stack, in deployment order.
    pub const ALL: [StackKind; 5] = [
        StackKind::Bootstrap,
        StackKind::Shared,
        StackKind::Scenario1,
        StackKind::Scenario2,
        StackKind::Scenario3,
    ];

    /// The stack's name in environment `env`.
    #[must_use]
    pub fn stack_name(self, env: &str) -> String {
        match self {
            StackKind::Bootstrap => format!("dagbench-bootstrap-{env}"),
            StackKind::Shared => format!("perf-shared-{env}"),
            StackKind::Scenario1 => format!("scenario-1-{env}"),
            StackKind::Scenario2 => format!("scenario-2-{env}"),
            StackKind::Scenario3 => format!("scenario-3-{env}"),
        }
    }

    /// The value of the `PerfTestScenario` tag.
    #[must_use]
    pub fn scenario_tag(self) -> &'static str {
        match self {
            StackKind::Bootstrap => "bootstrap",
            StackKind::Shared => "shared",
            StackKind::Scenario1 | StackKind::Scenario2 | StackKind::Scenario3 => {
                self.scenario().expect("a scenario stack").as_str()
            }
        }
    }

    /// The stack that deploys cloud `scenario` (`None` for local runs).
    #[must_use]
    pub fn of_scenario(scenario: Scenario) -> Option<StackKind> {
        match scenario {
            Scenario::Local => None,
            Scenario::Lambda => Some(StackKind::Scenario1),
            Scenario::Fargate => Some(StackKind::Scenario2),
            Scenario::StepFunctions => Some(StackKind::Scenario3),
        }
    }

    /// The scenario a scenario stack deploys.
    #[must_use]
    pub fn scenario(self) -> Option<Scenario> {
        match self {
            StackKind::Scenario1 => Some(Scenario::Lambda),
            StackKind::Scenario2 => Some(Scenario::Fargate),
            StackKind::Scenario3 => Some(Scenario::StepFunctions),
            StackKind::Bootstrap | StackKind::Shared => None,
        }
    }

    /// The scenario stack's resource-name prefix (`scenario-N-{env}`).
    #[must_use]
    pub fn is_scenario(self) -> bool {
        matches!(
            self,
            StackKind::Scenario1 | StackKind::Scenario2 | StackKind::Scenario3
        )
    }
}

impl fmt::Display for StackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StackKind::Bootstrap => "bootstrap",
            StackKind::Shared => "shared",
            StackKind::Scenario1 => "1",
            StackKind::Scenario2 => "2",
            StackKind::Scenario3 => "3",
        })
    }
}

impl FromStr for StackKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bootstrap" => Ok(StackKind::Bootstrap),
            "shared" => Ok(StackKind::Shared),
            "1" | "scenario-1" => Ok(StackKind::Scenario1),
            "2" | "scenario-2" => Ok(StackKind::Scenario2),
            "3" | "scenario-3" => Ok(StackKind::Scenario3),
            other => Err(format!(
                "unknown stack `{other}`: expected bootstrap, shared, 1, 2 or 3"
            )),
        }
    }
}

/// The names of a scenario stack's resources (`scenario-N-{env}-…`). Names
/// that contain the account id are built in the template with
/// `${AWS::AccountId}`; [`ScenarioNames::bucket`] fills it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioNames {
    base: String,
}

impl ScenarioNames {
    /// The names of `kind` (a scenario) in `env`.
    #[must_use]
    pub fn new(kind: StackKind, env: &str) -> Self {
        Self {
            base: kind.stack_name(env),
        }
    }

    /// `scenario-N-{env}`: the stack and the prefix of every name.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The queue jobs are sent to.
    #[must_use]
    pub fn incoming_queue(&self) -> String {
        format!("{}-incoming", self.base)
    }

    /// The queue completions come back on.
    #[must_use]
    pub fn outgoing_queue(&self) -> String {
        format!("{}-outgoing", self.base)
    }

    /// The dead-letter queue.
    #[must_use]
    pub fn dlq(&self) -> String {
        format!("{}-dlq", self.base)
    }

    /// The data bucket in `account`.
    #[must_use]
    pub fn bucket(&self, account: &str) -> String {
        format!("{}-data-{account}", self.base)
    }

    /// The job table.
    #[must_use]
    pub fn table(&self) -> String {
        format!("{}-jobs", self.base)
    }

    /// The Lambda function (Scenario 1) or the task definition family
    /// (Scenario 2).
    #[must_use]
    pub fn processor(&self) -> String {
        format!("{}-processor", self.base)
    }

    /// The state machine (Scenario 3).
    #[must_use]
    pub fn state_machine(&self) -> String {
        format!("{}-dag", self.base)
    }

    /// The state machine's execution log group (Scenario 3).
    #[must_use]
    pub fn state_machine_log_group(&self) -> String {
        format!("/aws/vendedlogs/states/{}-dag", self.base)
    }

    /// The ECS cluster (Scenario 2).
    #[must_use]
    pub fn cluster(&self) -> String {
        format!("{}-cluster", self.base)
    }

    /// The ECS service (Scenario 2).
    #[must_use]
    pub fn service(&self) -> String {
        format!("{}-service", self.base)
    }

    /// The processor's log group: Lambda's convention in Scenario 1,
    /// `/ecs/…` in Scenario 2.
    #[must_use]
    pub fn log_group(&self, kind: StackKind) -> String {
        match kind {
            StackKind::Scenario2 => format!("/ecs/{}-processor", self.base),
            _ => format!("/aws/lambda/{}-processor", self.base),
        }
    }
}

/// The ECR repository the bootstrap stack creates for the worker image.
#[must_use]
pub fn repository(env: &str) -> String {
    format!("dagbench-{env}-worker")
}

/// The shared VPC's name tag.
#[must_use]
pub fn vpc(env: &str) -> String {
    format!("perf-shared-{env}-vpc")
}

/// The name under which the shared stack exports `what` (e.g. `VpcId`).
#[must_use]
pub fn shared_export(env: &str, what: &str) -> String {
    format!("perf-shared-{env}-{what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_source_document() {
        let s1 = ScenarioNames::new(StackKind::Scenario1, "dev");
        assert_eq!(s1.base(), "scenario-1-dev");
        assert_eq!(s1.incoming_queue(), "scenario-1-dev-incoming");
        assert_eq!(s1.outgoing_queue(), "scenario-1-dev-outgoing");
        assert_eq!(s1.dlq(), "scenario-1-dev-dlq");
        assert_eq!(
            s1.bucket("123456789012"),
            "scenario-1-dev-data-123456789012"
        );
        assert_eq!(s1.table(), "scenario-1-dev-jobs");
        assert_eq!(s1.processor(), "scenario-1-dev-processor");
        assert_eq!(
            s1.log_group(StackKind::Scenario1),
            "/aws/lambda/scenario-1-dev-processor"
        );
        let s2 = ScenarioNames::new(StackKind::Scenario2, "prod");
        assert_eq!(s2.cluster(), "scenario-2-prod-cluster");
        assert_eq!(s2.service(), "scenario-2-prod-service");
        assert_eq!(
            s2.log_group(StackKind::Scenario2),
            "/ecs/scenario-2-prod-processor"
        );
        assert_eq!(vpc("dev"), "perf-shared-dev-vpc");
        assert_eq!(StackKind::Shared.stack_name("dev"), "perf-shared-dev");
        assert_eq!(
            StackKind::Bootstrap.stack_name("dev"),
            "dagbench-bootstrap-dev"
        );
    }

    #[test]
    fn stack_kinds_parse_from_what_they_print() {
        for kind in StackKind::ALL {
            assert_eq!(kind.to_string().parse::<StackKind>(), Ok(kind));
        }
        let err = "4".parse::<StackKind>().unwrap_err();
        assert!(err.contains("bootstrap, shared, 1, 2 or 3"), "{err}");
    }
}
