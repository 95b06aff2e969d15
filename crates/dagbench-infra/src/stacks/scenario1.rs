//! `scenario-1-{env}`: SQS → Lambda → S3. The function is the `bootstrap`
//! of `dagbench-lambda`, fed by an event source mapping that reports
//! per-record failures.

use serde_json::{Map, Value, json};

use super::{data_plane, keys};
use crate::config::Config;
use crate::names::{ScenarioNames, StackKind};
use crate::tags::Tags;
use crate::template::{Template, allow, get_att, r#ref, role};

pub(super) fn template(config: &Config) -> Template {
    let kind = StackKind::Scenario1;
    let tags = Tags::new(config, kind);
    let mut t = Template::new(format!(
        "dagbench Scenario 1 ({}): SQS -> Lambda -> S3, DynamoDB job table",
        config.env
    ));
    add_function_stack(&mut t, config, kind, &tags, Vec::new(), true);

    t.output(
        keys::CONFIGURATION,
        "What the processor was deployed with (JSON)",
        json!(crate::Setup::Lambda(config.lambda_setup()).configuration_output()),
        None,
    );
    t.output(
        "EventSourceMappingId",
        "The incoming queue's event source mapping",
        r#ref("ProcessorEventSourceMapping"),
        None,
    );
    t
}

/// The code parameters, the data plane, the processor's log group and the
/// processor ([`add_processor`]): all of a stack whose processor is the
/// function.
pub(super) fn add_function_stack(
    t: &mut Template,
    config: &Config,
    kind: StackKind,
    tags: &Tags,
    extra: Vec<Value>,
    mapping: bool,
) {
    let names = ScenarioNames::new(kind, &config.env);
    t.parameter(
        keys::LAMBDA_CODE_BUCKET,
        "Bucket holding the processor's zip (the bootstrap stack's assets bucket)",
    );
    t.parameter(
        keys::LAMBDA_CODE_KEY,
        "Key of the processor's zip, named by its content hash",
    );
    data_plane::add(t, config, kind, tags);
    data_plane::add_log_group(
        t,
        &names.log_group(kind),
        config.lambda.log_retention_days,
        tags,
    );
    add_processor(t, config, kind, tags, extra, mapping);
}

/// The processor function (the `bootstrap` of `dagbench-lambda`), its
/// role with `extra` statements and, with `mapping`, the incoming queue's
/// event source mapping. Scenario 3 deploys the same function.
pub(super) fn add_processor(
    t: &mut Template,
    config: &Config,
    kind: StackKind,
    tags: &Tags,
    extra: Vec<Value>,
    mapping: bool,
) {
    let names = ScenarioNames::new(kind, &config.env);
    let l = &config.lambda;
    let mut statements = data_plane::processor_statements();
    statements.extend(extra);
    statements.push(allow(
        "WriteLogs",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        vec![get_att("ProcessorLogGroup", "Arn")],
    ));
    t.resource(
        "ProcessorRole",
        "AWS::IAM::Role",
        role("lambda.amazonaws.com", "processor", statements, tags.list()),
    );

    // Lambda publishes neither the timeout nor a concurrency to the
    // function: the handler's budget comes from these.
    let variables: Map<String, Value> = data_plane::processor_environment(config, l.batch_size)
        .into_iter()
        .chain([
            (
                "FUNCTION_TIMEOUT_MS",
                json!((u64::from(l.timeout_s) * 1000).to_string()),
            ),
            (
                "JOB_CONCURRENCY",
                json!(config.lambda_job_concurrency().to_string()),
            ),
        ])
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let mut function = json!({
        "FunctionName": names.processor(),
        "Description": format!("dagbench job processor (Scenario {kind})"),
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Architectures": [l.architecture.lambda_name()],
        "MemorySize": l.memory_mb,
        "Timeout": l.timeout_s,
        "Role": get_att("ProcessorRole", "Arn"),
        "Code": {
            "S3Bucket": r#ref(keys::LAMBDA_CODE_BUCKET),
            "S3Key": r#ref(keys::LAMBDA_CODE_KEY),
        },
        "Environment": {"Variables": variables},
        "LoggingConfig": {
            "LogFormat": "JSON",
            "LogGroup": r#ref("ProcessorLogGroup"),
        },
        "Tags": tags.list(),
    });
    if l.reserved_concurrency > 0 {
        function["ReservedConcurrentExecutions"] = json!(l.reserved_concurrency);
    }
    t.resource("ProcessorFunction", "AWS::Lambda::Function", function);
    t.output(
        keys::FUNCTION_NAME,
        "The processor function",
        r#ref("ProcessorFunction"),
        None,
    );
    t.output(
        "FunctionArn",
        "The processor function's ARN",
        get_att("ProcessorFunction", "Arn"),
        None,
    );

    if !mapping {
        return;
    }
    let mut mapping = json!({
        "EventSourceArn": get_att("IncomingQueue", "Arn"),
        "FunctionName": r#ref("ProcessorFunction"),
        "Enabled": true,
        "BatchSize": l.batch_size,
        "MaximumBatchingWindowInSeconds": l.batching_window_s,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "Tags": tags.list(),
    });
    if let Some(max) = l.max_concurrency {
        mapping["ScalingConfig"] = json!({"MaximumConcurrency": max});
    }
    t.resource(
        "ProcessorEventSourceMapping",
        "AWS::Lambda::EventSourceMapping",
        mapping,
    );
}
