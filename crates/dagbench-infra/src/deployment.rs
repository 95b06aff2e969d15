//! What a scenario stack runs, as far as its cost goes: the processor's
//! configuration ([`Setup`]), published by the template as the stack's
//! `Configuration` output, read back by `dagbench-deploy` with the region
//! ([`Deployment`], a run's `deployment.json`) and priced by
//! `dagbench-report`. One type from synthesis to estimate.

use dagbench_core::Scenario;
use serde::{Deserialize, Serialize};

use crate::config::{Architecture, Config};

/// Scenario 1's configuration, as far as cost goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaSetup {
    /// Function memory, MB.
    pub memory_mb: u32,
    /// Architecture.
    pub arch: Architecture,
    /// Records per invocation.
    pub batch_size: u32,
}

/// Scenario 2's configuration, as far as cost goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FargateSetup {
    /// CPU units per task (1024 = 1 vCPU).
    pub cpu: u32,
    /// Memory per task, MiB.
    pub memory_mb: u32,
    /// Architecture.
    pub arch: Architecture,
    /// Tasks running during the run (read from ECS; not part of the
    /// template, where `dagbench scale` changes it).
    #[serde(default = "one")]
    pub tasks: u32,
    /// Polling loops per task.
    pub concurrency: u32,
    /// Messages per receive.
    pub batch_size: u32,
}

/// Scenario 3's configuration, as far as cost goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFunctionsSetup {
    /// How jobs run (`lambda` or `sqs`).
    pub task: crate::asl::TaskIntegration,
    /// The processor function's memory, MB.
    pub memory_mb: u32,
    /// Its architecture.
    pub arch: Architecture,
    /// Records per invocation through the event source mapping (`sqs`).
    pub batch_size: u32,
    /// Child executions a Distributed Map runs at once.
    pub max_concurrency: u32,
}

fn one() -> u32 {
    1
}

/// Which scenario, configured how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scenario")]
pub enum Setup {
    /// SQS → Lambda.
    #[serde(rename = "scenario-1")]
    Lambda(LambdaSetup),
    /// SQS → ECS Fargate.
    #[serde(rename = "scenario-2")]
    Fargate(FargateSetup),
    /// Step Functions → Lambda (direct) or SQS (task tokens).
    #[serde(rename = "scenario-3")]
    StepFunctions(StepFunctionsSetup),
}

impl Setup {
    /// The scenario it configures.
    #[must_use]
    pub fn scenario(&self) -> Scenario {
        match self {
            Setup::Lambda(_) => Scenario::Lambda,
            Setup::Fargate(_) => Scenario::Fargate,
            Setup::StepFunctions(_) => Scenario::StepFunctions,
        }
    }

    /// `S1 256 MB x86_64` / `S2 2×256/512 x86_64`: for narrow columns.
    #[must_use]
    pub fn short(&self) -> String {
        match self {
            Setup::Lambda(l) => format!("S1 {} MB {}", l.memory_mb, l.arch),
            Setup::Fargate(f) => format!("S2 {}×{}/{} {}", f.tasks, f.cpu, f.memory_mb, f.arch),
            Setup::StepFunctions(s) => format!("S3 {} {} MB {}", s.task, s.memory_mb, s.arch),
        }
    }

    /// `scenario-1 Lambda 256 MB x86_64, batch 10` and the like.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Setup::Lambda(l) => format!(
                "scenario-1 Lambda {} MB {}, batch {}",
                l.memory_mb, l.arch, l.batch_size
            ),
            Setup::Fargate(f) => format!(
                "scenario-2 Fargate {} × {} CPU / {} MiB {}",
                f.tasks, f.cpu, f.memory_mb, f.arch
            ),
            Setup::StepFunctions(s) => format!(
                "scenario-3 Step Functions, jobs through {} (Lambda {} MB {}), map concurrency {}",
                s.task, s.memory_mb, s.arch, s.max_concurrency
            ),
        }
    }

    /// The template's `Configuration` output: compact JSON, keys sorted,
    /// without the task count (a run reads that from ECS).
    #[must_use]
    pub fn configuration_output(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a setup serializes");
        if let Some(fields) = value.as_object_mut() {
            fields.remove("tasks");
        }
        value.to_string()
    }
}

impl Config {
    /// Scenario 1 as this configuration deploys it.
    #[must_use]
    pub fn lambda_setup(&self) -> LambdaSetup {
        LambdaSetup {
            memory_mb: self.lambda.memory_mb,
            arch: self.lambda.architecture,
            batch_size: self.lambda.batch_size,
        }
    }

    /// Scenario 3 as this configuration deploys it.
    #[must_use]
    pub fn step_functions_setup(&self) -> StepFunctionsSetup {
        StepFunctionsSetup {
            task: self.step_functions.task,
            memory_mb: self.lambda.memory_mb,
            arch: self.lambda.architecture,
            batch_size: self.lambda.batch_size,
            max_concurrency: self.step_functions.max_concurrency,
        }
    }

    /// Scenario 2 as this configuration deploys it, with `tasks` running.
    #[must_use]
    pub fn fargate_setup(&self, tasks: u32) -> FargateSetup {
        let f = &self.fargate;
        FargateSetup {
            cpu: f.cpu,
            memory_mb: f.memory_mb,
            arch: f.architecture,
            tasks,
            concurrency: f.concurrency,
            batch_size: f.batch_size,
        }
    }

    /// The setup of cloud `scenario` that gives `workers` concurrent
    /// processors (Fargate: enough tasks of `fargate.concurrency` loops);
    /// `None` for the local scenario.
    #[must_use]
    pub fn setup_for(&self, scenario: Scenario, workers: u32) -> Option<Setup> {
        match scenario {
            Scenario::Local => None,
            Scenario::Lambda => Some(Setup::Lambda(self.lambda_setup())),
            Scenario::Fargate => Some(Setup::Fargate(
                self.fargate_setup(workers.max(1).div_ceil(self.fargate.concurrency.max(1))),
            )),
            Scenario::StepFunctions => Some(Setup::StepFunctions(self.step_functions_setup())),
        }
    }
}

/// Where and how a cloud run's stack was deployed (`deployment.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// The AWS region.
    pub region: String,
    /// The scenario's configuration.
    pub setup: Setup,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_output_is_what_a_deployment_reads_back() {
        let config = Config::default();
        let fargate = Setup::Fargate(config.fargate_setup(3));
        let text = fargate.configuration_output();
        assert_eq!(
            text,
            r#"{"arch":"x86_64","batch_size":10,"concurrency":4,"cpu":256,"memory_mb":512,"scenario":"scenario-2"}"#
        );
        let back: Setup = serde_json::from_str(&text).unwrap();
        assert_eq!(back, Setup::Fargate(config.fargate_setup(1)));
        let lambda = Setup::Lambda(config.lambda_setup());
        assert_eq!(
            serde_json::from_str::<Setup>(&lambda.configuration_output()).unwrap(),
            lambda
        );
        assert_eq!(lambda.scenario(), Scenario::Lambda);
    }

    #[test]
    fn workers_become_tasks_of_the_configured_concurrency() {
        let config = Config::default();
        let tasks = |w| match config.setup_for(Scenario::Fargate, w) {
            Some(Setup::Fargate(f)) => f.tasks,
            other => panic!("{other:?}"),
        };
        assert_eq!((tasks(1), tasks(4), tasks(5), tasks(0)), (1, 1, 2, 1));
        assert_eq!(config.setup_for(Scenario::Local, 4), None);
    }
}
