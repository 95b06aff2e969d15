//! `scenario-3-{env}`: Step Functions orchestration. A static Standard
//! state machine ([`crate::asl`]) runs any job graph the run lays out in
//! the data bucket; each job runs on Scenario 1's processor function,
//! invoked directly (`step_functions.task = "lambda"`), or goes with a task
//! token to the incoming queue (`"sqs"`), where the function's event source
//! mapping — or any `dagbench worker` — runs it and finishes the task.

use serde_json::{Value, json};

use super::keys;
use super::scenario1::add_function_stack;
use crate::asl::{AslOptions, TaskIntegration, definition};
use crate::config::Config;
use crate::names::{ScenarioNames, StackKind};
use crate::tags::Tags;
use crate::template::{Template, allow, get_att, r#ref, role, sub};

/// Seconds a direct invocation may take beyond the function's timeout
/// before its task fails.
const INVOKE_MARGIN_S: u32 = 30;

/// Log delivery actions Step Functions needs on `*` to log to CloudWatch
/// (each listed in [`super::WILDCARD_RESOURCE_ACTIONS`]).
pub const LOG_DELIVERY_ACTIONS: [&str; 8] = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];

/// The definition as deployed: ARNs left as `${FunctionArn}` and
/// `${QueueUrl}`, which the stack substitutes.
#[must_use]
pub fn deployed_definition(config: &Config) -> Value {
    definition(&asl_options(config, "${FunctionArn}", "${QueueUrl}"))
}

/// The definition's options under `config`.
#[must_use]
pub fn asl_options(config: &Config, function_arn: &str, queue_url: &str) -> AslOptions {
    let sf = &config.step_functions;
    AslOptions {
        task: sf.task,
        function_arn: function_arn.to_owned(),
        queue_url: queue_url.to_owned(),
        max_concurrency: sf.max_concurrency,
        heartbeat_s: sf.heartbeat_s,
        invoke_timeout_s: config.lambda.timeout_s + INVOKE_MARGIN_S,
    }
}

pub(super) fn template(config: &Config) -> Template {
    let kind = StackKind::Scenario3;
    let names = ScenarioNames::new(kind, &config.env);
    let tags = Tags::new(config, kind);
    let sf = &config.step_functions;
    let mut t = Template::new(format!(
        "dagbench Scenario 3 ({}): Step Functions -> {} -> S3, DynamoDB job table",
        config.env,
        match sf.task {
            TaskIntegration::Lambda => "Lambda",
            TaskIntegration::Sqs => "SQS (task tokens) -> Lambda or workers",
        }
    ));
    // Built from its name, not referenced: the processor's role names the
    // state machine, which names the function, which names the role.
    let machine_arn = format!(
        "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{}",
        names.state_machine()
    );
    let executions_arn = format!(
        "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{}:*",
        names.state_machine()
    );
    let finish_tasks = allow(
        "FinishTasks",
        &[
            "states:SendTaskSuccess",
            "states:SendTaskFailure",
            "states:SendTaskHeartbeat",
        ],
        vec![sub(&machine_arn)],
    );
    add_function_stack(
        &mut t,
        config,
        kind,
        &tags,
        vec![finish_tasks],
        sf.task == TaskIntegration::Sqs,
    );

    t.resource(
        "StateMachineLogGroup",
        "AWS::Logs::LogGroup",
        json!({
            "LogGroupName": names.state_machine_log_group(),
            "RetentionInDays": sf.log_retention_days,
            "Tags": tags.list(),
        }),
    );
    let run_jobs = match sf.task {
        TaskIntegration::Lambda => allow(
            "InvokeProcessor",
            &["lambda:InvokeFunction"],
            vec![get_att("ProcessorFunction", "Arn")],
        ),
        TaskIntegration::Sqs => allow(
            "SendJobs",
            &["sqs:SendMessage"],
            vec![get_att("IncomingQueue", "Arn")],
        ),
    };
    let statements = vec![
        run_jobs,
        allow(
            "ReadPlans",
            &["s3:GetObject"],
            vec![sub("${DataBucket.Arn}/*")],
        ),
        allow(
            "RunChildExecutions",
            &["states:StartExecution"],
            vec![sub(&machine_arn)],
        ),
        allow(
            "FollowChildExecutions",
            &["states:DescribeExecution", "states:StopExecution"],
            vec![sub(&executions_arn)],
        ),
        allow("DeliverLogs", &LOG_DELIVERY_ACTIONS, vec![json!("*")]),
    ];
    t.resource(
        "StateMachineRole",
        "AWS::IAM::Role",
        role(
            "states.amazonaws.com",
            "orchestrator",
            statements,
            tags.list(),
        ),
    );
    t.resource(
        "StateMachine",
        "AWS::StepFunctions::StateMachine",
        json!({
            "StateMachineName": names.state_machine(),
            "StateMachineType": "STANDARD",
            "DefinitionString": deployed_definition(config).to_string(),
            "DefinitionSubstitutions": {
                "FunctionArn": get_att("ProcessorFunction", "Arn"),
                "QueueUrl": r#ref("IncomingQueue"),
            },
            "RoleArn": get_att("StateMachineRole", "Arn"),
            "LoggingConfiguration": {
                "Level": "ERROR",
                "IncludeExecutionData": false,
                "Destinations": [{
                    "CloudWatchLogsLogGroup": {"LogGroupArn": get_att("StateMachineLogGroup", "Arn")},
                }],
            },
            "Tags": tags.list(),
        }),
    );

    t.output(
        keys::CONFIGURATION,
        "What the state machine and processor were deployed with (JSON)",
        json!(crate::Setup::StepFunctions(config.step_functions_setup()).configuration_output()),
        None,
    );
    t.output(
        keys::STATE_MACHINE_ARN,
        "The state machine that runs the jobs",
        r#ref("StateMachine"),
        None,
    );
    t
}
