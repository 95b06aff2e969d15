//! Cost-allocation tags. Every taggable resource carries `PerfTestRun`,
//! `Purpose`, `Environment`, `Project` and `PerfTestScenario`, so a test
//! run's cost can be found in Cost Explorer (after activating `PerfTestRun`
//! as a cost allocation tag). The same tags go on the stack itself.

use serde_json::{Value, json};

use crate::config::Config;
use crate::names::StackKind;

/// The tag Cost Explorer filters on: a test run.
pub const PERF_TEST_RUN: &str = "PerfTestRun";
/// `PerformanceTesting` on everything dagbench deploys.
pub const PURPOSE: &str = "Purpose";
/// The environment (`dev`, `prod`, …).
pub const ENVIRONMENT: &str = "Environment";
/// The configured prefix.
pub const PROJECT: &str = "Project";
/// Which stack the resource belongs to (`scenario-1`, `shared`, …).
pub const PERF_TEST_SCENARIO: &str = "PerfTestScenario";
/// The `Purpose` tag's value.
pub const PURPOSE_VALUE: &str = "PerformanceTesting";

/// The tags of every resource of one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags {
    pairs: Vec<(&'static str, String)>,
}

impl Tags {
    /// The tags of `kind`'s resources under `config`.
    #[must_use]
    pub fn new(config: &Config, kind: StackKind) -> Self {
        Self {
            pairs: vec![
                (PERF_TEST_RUN, config.test_run_id.clone()),
                (PURPOSE, PURPOSE_VALUE.to_owned()),
                (ENVIRONMENT, config.env.clone()),
                (PROJECT, config.prefix.clone()),
                (PERF_TEST_SCENARIO, kind.scenario_tag().to_owned()),
            ],
        }
    }

    /// `(key, value)` pairs, for the stack's own tags.
    #[must_use]
    pub fn pairs(&self) -> &[(&'static str, String)] {
        &self.pairs
    }

    /// CloudFormation's `[{"Key": …, "Value": …}]` form.
    #[must_use]
    pub fn list(&self) -> Value {
        Value::Array(
            self.pairs
                .iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect(),
        )
    }

    /// The list form plus a `Name` tag (what the EC2 console shows).
    #[must_use]
    pub fn named(&self, name: &str) -> Value {
        let mut list = self.list();
        if let Value::Array(items) = &mut list {
            items.push(json!({"Key": "Name", "Value": name}));
        }
        list
    }
}

/// The resource types our templates use that accept tags (each must carry
/// all of [`Tags`]), and those that do not. A test checks every type in
/// every template is in exactly one list, and that the first list agrees
/// with cfn-lint's resource schemas.
pub const TAGGABLE: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Subnet",
    "AWS::EC2::VPC",
    "AWS::ECR::Repository",
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::IAM::Role",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::StepFunctions::StateMachine",
];

/// Resource types we use that CloudFormation cannot tag.
pub const UNTAGGABLE: &[&str] = &[
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::S3::BucketPolicy",
];
