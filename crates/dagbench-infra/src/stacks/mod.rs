//! The five stacks. Each is a function of the configuration alone (account
//! and region enter as `${AWS::AccountId}`/`${AWS::Region}`); what only the
//! deployment knows — the Lambda zip's key, the worker image — enters as a
//! template parameter.

mod bootstrap;
mod data_plane;
mod scenario1;
mod scenario2;
pub mod scenario3;
mod shared;

use crate::config::Config;
use crate::names::StackKind;
use crate::template::Template;

/// Output and parameter names: the deploy code and `dagbench run` read
/// stacks through these.
pub mod keys {
    /// Parameter: the bucket holding the Lambda zip (Scenario 1).
    pub const LAMBDA_CODE_BUCKET: &str = "LambdaCodeBucket";
    /// Parameter: the zip's key, by content hash (Scenario 1).
    pub const LAMBDA_CODE_KEY: &str = "LambdaCodeKey";
    /// Parameter: the worker image, `repository@sha256:…` (Scenario 2).
    pub const IMAGE_URI: &str = "ImageUri";
    /// Parameter: the service's task count (Scenario 2). A deploy passes
    /// the running service's count, so redeploying (a new TEST_RUN_ID, say)
    /// never stops a test's tasks; `fargate.desired_count` applies when the
    /// service is created.
    pub const DESIRED_COUNT: &str = "DesiredCount";

    /// Bootstrap: the assets bucket.
    pub const ASSETS_BUCKET: &str = "AssetsBucketName";
    /// Bootstrap: the worker repository's name.
    pub const REPOSITORY_NAME: &str = "WorkerRepositoryName";
    /// Bootstrap: the worker repository's URI (`….dkr.ecr….amazonaws.com/…`).
    pub const REPOSITORY_URI: &str = "WorkerRepositoryUri";

    /// Shared: the VPC.
    pub const VPC_ID: &str = "VpcId";
    /// Shared: the public subnets (two AZs).
    pub const SUBNET_IDS: [&str; 2] = ["PublicSubnet1Id", "PublicSubnet2Id"];
    /// Shared: the tasks' security group (egress only).
    pub const SECURITY_GROUP_ID: &str = "TaskSecurityGroupId";

    /// Scenarios: the queue the scheduler sends jobs to.
    pub const INCOMING_QUEUE_URL: &str = "IncomingQueueUrl";
    /// Scenarios: the queue completions come back on.
    pub const OUTGOING_QUEUE_URL: &str = "OutgoingQueueUrl";
    /// Scenarios: the dead-letter queue.
    pub const DLQ_URL: &str = "DlqUrl";
    /// Scenarios: the data bucket.
    pub const BUCKET_NAME: &str = "BucketName";
    /// Scenarios: the job table.
    pub const TABLE_NAME: &str = "TableName";
    /// Scenarios: the `PerfTestRun` tag the stack was deployed with.
    pub const TEST_RUN_ID: &str = "TestRunId";
    /// Scenarios: the processor's log group.
    pub const LOG_GROUP_NAME: &str = "LogGroupName";
    /// Scenario 1: the function.
    pub const FUNCTION_NAME: &str = "FunctionName";
    /// Scenario 3: the state machine's ARN.
    pub const STATE_MACHINE_ARN: &str = "StateMachineArn";
    /// Scenario 2: the cluster.
    pub const CLUSTER_NAME: &str = "ClusterName";
    /// Scenario 2: the service.
    pub const SERVICE_NAME: &str = "ServiceName";
    /// Scenarios: what the processor was deployed with, as compact JSON
    /// (`{"scenario":"scenario-1","memory_mb":256,"arch":"x86_64",
    /// "batch_size":10}`, or Fargate's `cpu`, `memory_mb`, `arch`,
    /// `concurrency`, `batch_size`): cost estimates price it.
    pub const CONFIGURATION: &str = "Configuration";
}

/// IAM statements that must name `*` as their resource, because the action
/// has no resource to scope it to. Every other statement names the stack's
/// own resources. ARCHITECTURE.md lists these.
pub const WILDCARD_RESOURCE_ACTIONS: &[(&str, &str)] = &[
    (
        "cloudwatch:PutMetricData",
        "metrics have no ARN; the statement is limited to the PerfTesting namespace by a `cloudwatch:namespace` condition",
    ),
    (
        "logs:CreateLogDelivery",
        "Step Functions' log delivery to CloudWatch Logs: the action supports no resource-level permissions (AWS documents `*`)",
    ),
    (
        "logs:GetLogDelivery",
        "Step Functions' log delivery to CloudWatch Logs: the action supports no resource-level permissions (AWS documents `*`)",
    ),
    (
        "logs:UpdateLogDelivery",
        "Step Functions' log delivery to CloudWatch Logs: the action supports no resource-level permissions (AWS documents `*`)",
    ),
    (
        "logs:DeleteLogDelivery",
        "Step Functions' log delivery to CloudWatch Logs: the action supports no resource-level permissions (AWS documents `*`)",
    ),
    (
        "logs:ListLogDeliveries",
        "Step Functions' log delivery to CloudWatch Logs: the action supports no resource-level permissions (AWS documents `*`)",
    ),
    (
        "logs:PutResourcePolicy",
        "Step Functions' log delivery to CloudWatch Logs: the action supports no resource-level permissions (AWS documents `*`)",
    ),
    (
        "logs:DescribeResourcePolicies",
        "Step Functions' log delivery to CloudWatch Logs: the action supports no resource-level permissions (AWS documents `*`)",
    ),
    (
        "logs:DescribeLogGroups",
        "Step Functions' log delivery to CloudWatch Logs: the action supports no resource-level permissions (AWS documents `*`)",
    ),
    (
        "ecr:GetAuthorizationToken",
        "the registry login token is account-wide (the image pull itself is scoped to the worker repository)",
    ),
];

/// The template of `kind` under `config`.
#[must_use]
pub fn synthesize(config: &Config, kind: StackKind) -> Template {
    match kind {
        StackKind::Bootstrap => bootstrap::template(config),
        StackKind::Shared => shared::template(config),
        StackKind::Scenario1 => scenario1::template(config),
        StackKind::Scenario2 => scenario2::template(config),
        StackKind::Scenario3 => scenario3::template(config),
    }
}

/// The stacks `kind` needs deployed first.
#[must_use]
pub fn dependencies(kind: StackKind) -> &'static [StackKind] {
    match kind {
        StackKind::Bootstrap => &[],
        StackKind::Shared => &[],
        StackKind::Scenario1 => &[StackKind::Bootstrap],
        StackKind::Scenario2 => &[StackKind::Bootstrap, StackKind::Shared],
        StackKind::Scenario3 => &[StackKind::Bootstrap],
    }
}
