//! What both scenarios share: the incoming queue (redriving to the DLQ),
//! the outgoing queue, the DLQ, the data bucket and the job table, their
//! outputs, and the IAM statements a processor needs on them.

use serde_json::{Value, json};

use super::keys;
use crate::config::Config;
use crate::names::{ScenarioNames, StackKind};
use crate::tags::Tags;
use crate::template::{Template, allow, get_att, r#ref, sub};

/// SQS's longest retention, for the DLQ: 14 days.
const DLQ_RETENTION_S: u32 = 14 * 24 * 3600;

/// Adds the queues, bucket and table of `kind` to `t`.
pub(super) fn add(t: &mut Template, config: &Config, kind: StackKind, tags: &Tags) {
    let names = ScenarioNames::new(kind, &config.env);
    let retention = config.queues.retention_days * 24 * 3600;
    t.resource(
        "DeadLetterQueue",
        "AWS::SQS::Queue",
        json!({
            "QueueName": names.dlq(),
            "MessageRetentionPeriod": DLQ_RETENTION_S,
            "SqsManagedSseEnabled": true,
            "Tags": tags.list(),
        }),
    );
    t.resource(
        "IncomingQueue",
        "AWS::SQS::Queue",
        json!({
            "QueueName": names.incoming_queue(),
            "VisibilityTimeout": config.visibility_timeout_s(),
            "MessageRetentionPeriod": retention,
            "ReceiveMessageWaitTimeSeconds": 20,
            "RedrivePolicy": {
                "deadLetterTargetArn": get_att("DeadLetterQueue", "Arn"),
                "maxReceiveCount": config.queues.max_receive_count,
            },
            "SqsManagedSseEnabled": true,
            "Tags": tags.list(),
        }),
    );
    t.resource(
        "OutgoingQueue",
        "AWS::SQS::Queue",
        json!({
            "QueueName": names.outgoing_queue(),
            "MessageRetentionPeriod": retention,
            "ReceiveMessageWaitTimeSeconds": 20,
            "SqsManagedSseEnabled": true,
            "Tags": tags.list(),
        }),
    );
    add_bucket(
        t,
        "DataBucket",
        &format!("{}-data-${{AWS::AccountId}}", names.base()),
        Some(config.data.expiry_days),
        tags,
    );
    t.resource(
        "JobTable",
        "AWS::DynamoDB::Table",
        json!({
            "TableName": names.table(),
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": true},
            "SSESpecification": {"SSEEnabled": true},
            "Tags": tags.list(),
        }),
    );

    let outputs: [(&str, &str, Value); 11] = [
        (
            keys::INCOMING_QUEUE_URL,
            "The queue the scheduler sends jobs to",
            r#ref("IncomingQueue"),
        ),
        (
            "IncomingQueueArn",
            "The incoming queue's ARN",
            get_att("IncomingQueue", "Arn"),
        ),
        (
            keys::OUTGOING_QUEUE_URL,
            "The queue completions come back on",
            r#ref("OutgoingQueue"),
        ),
        (
            "OutgoingQueueArn",
            "The outgoing queue's ARN",
            get_att("OutgoingQueue", "Arn"),
        ),
        (
            keys::DLQ_URL,
            "The dead-letter queue",
            r#ref("DeadLetterQueue"),
        ),
        (
            "DlqArn",
            "The dead-letter queue's ARN",
            get_att("DeadLetterQueue", "Arn"),
        ),
        (keys::BUCKET_NAME, "The data bucket", r#ref("DataBucket")),
        (
            "BucketArn",
            "The data bucket's ARN",
            get_att("DataBucket", "Arn"),
        ),
        (keys::TABLE_NAME, "The job table", r#ref("JobTable")),
        (
            "TableArn",
            "The job table's ARN",
            get_att("JobTable", "Arn"),
        ),
        (
            keys::TEST_RUN_ID,
            "The PerfTestRun tag this stack was deployed with",
            json!(config.test_run_id),
        ),
    ];
    for (name, description, value) in outputs {
        t.output(name, description, value, None);
    }
}

/// An encrypted, private, TLS-only bucket; objects expire after
/// `expiry_days` when given.
pub(super) fn add_bucket(
    t: &mut Template,
    logical: &str,
    name: &str,
    expiry_days: Option<u32>,
    tags: &Tags,
) {
    let mut rules = vec![json!({
        "Id": "abort-incomplete-uploads",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    })];
    if let Some(days) = expiry_days {
        rules.push(json!({"Id": "expire-results", "Status": "Enabled", "ExpirationInDays": days}));
    }
    t.resource(
        logical,
        "AWS::S3::Bucket",
        json!({
            "BucketName": sub(name),
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{
                    "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                }],
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": rules},
            "Tags": tags.list(),
        }),
    );
    t.resource(
        &format!("{logical}Policy"),
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": r#ref(logical),
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [
                        get_att(logical, "Arn"),
                        sub(&format!("${{{logical}.Arn}}/*")),
                    ],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }],
            },
        }),
    );
}

/// What a processor may do: receive from the incoming queue, send
/// completions and poison, read and write the data bucket, record jobs.
pub(super) fn processor_statements() -> Vec<Value> {
    vec![
        allow(
            "ReceiveJobs",
            &[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            vec![get_att("IncomingQueue", "Arn")],
        ),
        allow(
            "SendCompletionsAndPoison",
            &["sqs:SendMessage"],
            vec![
                get_att("OutgoingQueue", "Arn"),
                get_att("DeadLetterQueue", "Arn"),
            ],
        ),
        allow(
            "ListResults",
            &["s3:ListBucket"],
            vec![get_att("DataBucket", "Arn")],
        ),
        allow(
            "ReadWriteResults",
            &["s3:GetObject", "s3:PutObject"],
            vec![sub("${DataBucket.Arn}/*")],
        ),
        allow(
            "RecordJobs",
            &["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            vec![get_att("JobTable", "Arn")],
        ),
    ]
}

/// The processor's environment (issue 5's variables).
pub(super) fn processor_environment(
    config: &Config,
    batch_size: u32,
) -> Vec<(&'static str, Value)> {
    vec![
        ("INCOMING_QUEUE_URL", r#ref("IncomingQueue")),
        ("OUTGOING_QUEUE_URL", r#ref("OutgoingQueue")),
        ("DLQ_URL", r#ref("DeadLetterQueue")),
        ("BUCKET_NAME", r#ref("DataBucket")),
        ("TABLE_NAME", r#ref("JobTable")),
        ("TEST_RUN_ID", json!(config.test_run_id)),
        ("BATCH_SIZE", json!(batch_size.to_string())),
        (
            "MAX_RECEIVE_COUNT",
            json!(config.queues.max_receive_count.to_string()),
        ),
    ]
}

/// A log group with the configured retention.
pub(super) fn add_log_group(t: &mut Template, name: &str, retention_days: u32, tags: &Tags) {
    t.resource(
        "ProcessorLogGroup",
        "AWS::Logs::LogGroup",
        json!({
            "LogGroupName": name,
            "RetentionInDays": retention_days,
            "Tags": tags.list(),
        }),
    );
    t.output(
        keys::LOG_GROUP_NAME,
        "The processor's log group",
        r#ref("ProcessorLogGroup"),
        None,
    );
}
