//! `scenario-2-{env}`: SQS → ECS Fargate → S3. A service of `dagbench
//! worker` tasks (desired count 0 until scaled) in the shared VPC's public
//! subnets, pulling its image from the bootstrap stack's repository.

use serde_json::{Value, json};

use super::{data_plane, keys};
use crate::config::Config;
use crate::names::{self, ScenarioNames, StackKind};
use crate::tags::Tags;
use crate::template::{Template, allow, get_att, import, r#ref, role, sub};

/// The container's name in the task definition.
pub(super) const CONTAINER: &str = "processor";

pub(super) fn template(config: &Config) -> Template {
    let kind = StackKind::Scenario2;
    let env = &config.env;
    let names = ScenarioNames::new(kind, env);
    let tags = Tags::new(config, kind);
    let f = &config.fargate;
    let mut t = Template::new(format!(
        "dagbench Scenario 2 ({env}): SQS -> ECS Fargate -> S3, DynamoDB job table"
    ));
    t.parameter(
        keys::IMAGE_URI,
        "The worker image, pinned by digest (repository@sha256:...)",
    );
    t.number_parameter(
        keys::DESIRED_COUNT,
        "Tasks the service runs (a deploy keeps the running service's count)",
        f.desired_count,
        0,
        1000,
    );
    data_plane::add(&mut t, config, kind, &tags);
    data_plane::add_log_group(&mut t, &names.log_group(kind), f.log_retention_days, &tags);

    t.resource(
        "Cluster",
        "AWS::ECS::Cluster",
        json!({
            "ClusterName": names.cluster(),
            "ClusterSettings": [{"Name": "containerInsights", "Value": "disabled"}],
            "Tags": tags.list(),
        }),
    );

    let repository = sub(&format!(
        "arn:${{AWS::Partition}}:ecr:${{AWS::Region}}:${{AWS::AccountId}}:repository/{}",
        names::repository(env)
    ));
    t.resource(
        "TaskExecutionRole",
        "AWS::IAM::Role",
        role(
            "ecs-tasks.amazonaws.com",
            "pull-image-and-log",
            vec![
                allow(
                    "RegistryLogin",
                    &["ecr:GetAuthorizationToken"],
                    vec![json!("*")],
                ),
                allow(
                    "PullWorkerImage",
                    &[
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                    vec![repository],
                ),
                allow(
                    "WriteLogs",
                    &["logs:CreateLogStream", "logs:PutLogEvents"],
                    vec![get_att("ProcessorLogGroup", "Arn")],
                ),
            ],
            tags.list(),
        ),
    );
    let mut statements = data_plane::processor_statements();
    let mut metrics = allow(
        "PutMetrics",
        &["cloudwatch:PutMetricData"],
        vec![json!("*")],
    );
    metrics["Condition"] = json!({"StringEquals": {"cloudwatch:namespace": "PerfTesting"}});
    statements.push(metrics);
    t.resource(
        "TaskRole",
        "AWS::IAM::Role",
        role(
            "ecs-tasks.amazonaws.com",
            "processor",
            statements,
            tags.list(),
        ),
    );

    let environment: Vec<Value> = data_plane::processor_environment(config, f.batch_size)
        .into_iter()
        .map(|(name, value)| json!({"Name": name, "Value": value}))
        .collect();
    // The worker finishes its jobs within the stop timeout, less a margin
    // for releasing the rest.
    let grace = f.stop_timeout_s.saturating_sub(5).max(1);
    t.resource(
        "TaskDefinition",
        "AWS::ECS::TaskDefinition",
        json!({
            "Family": names.processor(),
            "Cpu": f.cpu.to_string(),
            "Memory": f.memory_mb.to_string(),
            "NetworkMode": "awsvpc",
            "RequiresCompatibilities": ["FARGATE"],
            "RuntimePlatform": {
                "OperatingSystemFamily": "LINUX",
                "CpuArchitecture": f.architecture.ecs_name(),
            },
            "ExecutionRoleArn": get_att("TaskExecutionRole", "Arn"),
            "TaskRoleArn": get_att("TaskRole", "Arn"),
            "ContainerDefinitions": [{
                "Name": CONTAINER,
                "Image": r#ref(keys::IMAGE_URI),
                "Essential": true,
                "Command": [
                    "worker",
                    "--concurrency", f.concurrency.to_string(),
                    "--visibility-timeout", config.visibility_timeout_s().to_string(),
                    "--shutdown-grace", grace.to_string(),
                ],
                "Environment": environment,
                "ReadonlyRootFilesystem": true,
                "StopTimeout": f.stop_timeout_s,
                "LogConfiguration": {
                    "LogDriver": "awslogs",
                    "Options": {
                        "awslogs-group": r#ref("ProcessorLogGroup"),
                        "awslogs-region": r#ref("AWS::Region"),
                        "awslogs-stream-prefix": CONTAINER,
                    },
                },
            }],
            "Tags": tags.list(),
        }),
    );
    t.resource(
        "Service",
        "AWS::ECS::Service",
        json!({
            "ServiceName": names.service(),
            "Cluster": r#ref("Cluster"),
            "TaskDefinition": r#ref("TaskDefinition"),
            "DesiredCount": r#ref(keys::DESIRED_COUNT),
            "LaunchType": "FARGATE",
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "AssignPublicIp": "ENABLED",
                    "Subnets": keys::SUBNET_IDS
                        .iter()
                        .map(|s| import(&names::shared_export(env, s)))
                        .collect::<Vec<_>>(),
                    "SecurityGroups": [import(&names::shared_export(env, keys::SECURITY_GROUP_ID))],
                },
            },
            "DeploymentConfiguration": {
                "MinimumHealthyPercent": 0,
                "MaximumPercent": 200,
                "DeploymentCircuitBreaker": {"Enable": true, "Rollback": true},
            },
            "PropagateTags": "SERVICE",
            "EnableECSManagedTags": true,
            "Tags": tags.list(),
        }),
    );

    t.output(
        keys::CONFIGURATION,
        "What the processor was deployed with (JSON)",
        json!(crate::Setup::Fargate(config.fargate_setup(f.desired_count)).configuration_output()),
        None,
    );
    t.output(
        keys::CLUSTER_NAME,
        "The ECS cluster",
        r#ref("Cluster"),
        None,
    );
    t.output(
        keys::SERVICE_NAME,
        "The worker service",
        get_att("Service", "Name"),
        None,
    );
    t.output(
        "TaskDefinitionArn",
        "The worker task definition",
        r#ref("TaskDefinition"),
        None,
    );
    t
}
