//! Every synthesized template: snapshots (insta), the properties the issue
//! requires (tags, names, encryption, public access, least privilege), and
//! cfn-lint over all of them with zero errors.

// Tests read fixtures and run tools (cfn-lint, Python); the crate itself
// does no I/O (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use dagbench_infra::config::{Architecture, Config};
use dagbench_infra::names::StackKind;
use dagbench_infra::stacks::{WILDCARD_RESOURCE_ACTIONS, synthesize};
use dagbench_infra::tags::{TAGGABLE, UNTAGGABLE};
use dagbench_infra::template::MAX_TEMPLATE_BODY;
use serde_json::Value;

/// The default configuration, and one that changes every knob a template
/// reads, so both branches of each are synthesized, snapshotted and linted.
fn configs() -> Vec<(&'static str, Config)> {
    let mut custom = Config {
        prefix: "acme-perf".into(),
        env: "prod".into(),
        test_run_id: "memory-1024mb".into(),
        ..Config::default()
    };
    custom.lambda.memory_mb = 1024;
    custom.lambda.timeout_s = 120;
    custom.lambda.batch_size = 100;
    custom.lambda.batching_window_s = 2;
    custom.lambda.max_concurrency = Some(50);
    custom.lambda.reserved_concurrency = 0;
    custom.lambda.architecture = Architecture::Arm64;
    custom.fargate.cpu = 1024;
    custom.fargate.memory_mb = 4096;
    custom.fargate.architecture = Architecture::Arm64;
    custom.fargate.desired_count = 2;
    custom.data.expiry_days = 30;
    custom.step_functions.task = dagbench_infra::asl::TaskIntegration::Lambda;
    custom.step_functions.max_concurrency = 40;
    custom.validate().unwrap();
    vec![("default", Config::default()), ("custom", custom)]
}

fn templates() -> Vec<(String, Config, StackKind, Value)> {
    let mut out = Vec::new();
    for (label, config) in configs() {
        for kind in StackKind::ALL {
            let t = synthesize(&config, kind);
            out.push((
                format!("{label}-{}", kind.stack_name(&config.env)),
                config.clone(),
                kind,
                t.to_value(),
            ));
        }
    }
    out
}

fn resources(t: &Value) -> impl Iterator<Item = (&String, &Value)> {
    t["Resources"].as_object().unwrap().iter()
}

#[test]
fn templates_match_their_snapshots() {
    for (label, config) in configs() {
        for kind in StackKind::ALL {
            let json = synthesize(&config, kind).to_json();
            insta::assert_snapshot!(format!("{label}-{kind}"), json);
        }
    }
}

#[test]
fn every_taggable_resource_carries_the_cost_tags() {
    for (name, config, kind, t) in templates() {
        for (logical, r) in resources(&t) {
            let ty = r["Type"].as_str().unwrap();
            assert!(
                TAGGABLE.contains(&ty) != UNTAGGABLE.contains(&ty),
                "{name}/{logical}: {ty} must be in exactly one of TAGGABLE and UNTAGGABLE"
            );
            if !TAGGABLE.contains(&ty) {
                continue;
            }
            let tags: Vec<(&str, &str)> = r["Properties"]["Tags"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}/{logical} has no Tags"))
                .iter()
                .map(|t| (t["Key"].as_str().unwrap(), t["Value"].as_str().unwrap()))
                .collect();
            for expected in [
                ("PerfTestRun", config.test_run_id.as_str()),
                ("Purpose", "PerformanceTesting"),
                ("Environment", config.env.as_str()),
                ("Project", config.prefix.as_str()),
                ("PerfTestScenario", kind.scenario_tag()),
            ] {
                assert!(
                    tags.contains(&expected),
                    "{name}/{logical} lacks {expected:?}: {tags:?}"
                );
            }
        }
    }
}

#[test]
fn resources_are_named_as_in_the_source_document() {
    for (name, config, kind, t) in templates() {
        let env = &config.env;
        let prop = |logical: &str, key: &str| -> Value {
            t["Resources"][logical]["Properties"][key].clone()
        };
        match kind {
            StackKind::Scenario1 | StackKind::Scenario2 | StackKind::Scenario3 => {
                let n = match kind {
                    StackKind::Scenario1 => 1,
                    StackKind::Scenario2 => 2,
                    _ => 3,
                };
                let base = format!("scenario-{n}-{env}");
                assert_eq!(
                    prop("IncomingQueue", "QueueName"),
                    format!("{base}-incoming"),
                    "{name}"
                );
                assert_eq!(
                    prop("OutgoingQueue", "QueueName"),
                    format!("{base}-outgoing"),
                    "{name}"
                );
                assert_eq!(
                    prop("DeadLetterQueue", "QueueName"),
                    format!("{base}-dlq"),
                    "{name}"
                );
                assert_eq!(
                    prop("JobTable", "TableName"),
                    format!("{base}-jobs"),
                    "{name}"
                );
                assert_eq!(
                    prop("DataBucket", "BucketName")["Fn::Sub"],
                    format!("{base}-data-${{AWS::AccountId}}"),
                    "{name}"
                );
                if n == 3 {
                    assert_eq!(
                        prop("StateMachine", "StateMachineName"),
                        format!("{base}-dag")
                    );
                    assert_eq!(
                        prop("StateMachineLogGroup", "LogGroupName"),
                        format!("/aws/vendedlogs/states/{base}-dag")
                    );
                }
                if n != 2 {
                    assert_eq!(
                        prop("ProcessorFunction", "FunctionName"),
                        format!("{base}-processor")
                    );
                    assert_eq!(
                        prop("ProcessorLogGroup", "LogGroupName"),
                        format!("/aws/lambda/{base}-processor")
                    );
                } else {
                    assert_eq!(prop("Cluster", "ClusterName"), format!("{base}-cluster"));
                    assert_eq!(prop("Service", "ServiceName"), format!("{base}-service"));
                    assert_eq!(
                        prop("TaskDefinition", "Family"),
                        format!("{base}-processor")
                    );
                    assert_eq!(
                        prop("ProcessorLogGroup", "LogGroupName"),
                        format!("/ecs/{base}-processor")
                    );
                    assert_eq!(prop("Service", "DesiredCount")["Ref"], "DesiredCount");
                    assert_eq!(
                        t["Parameters"]["DesiredCount"]["Default"], config.fargate.desired_count,
                        "a new service starts with the configured count"
                    );
                    let net = prop("Service", "NetworkConfiguration");
                    assert_eq!(net["AwsvpcConfiguration"]["AssignPublicIp"], "ENABLED");
                }
            }
            StackKind::Shared => {
                let vpc_tags = prop("Vpc", "Tags");
                assert!(
                    vpc_tags
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["Key"] == "Name"
                            && t["Value"] == format!("perf-shared-{env}-vpc")),
                    "{name}"
                );
                let types: Vec<&str> = resources(&t)
                    .map(|(_, r)| r["Type"].as_str().unwrap())
                    .collect();
                assert!(!types.contains(&"AWS::EC2::NatGateway"), "no NAT: {name}");
                assert_eq!(
                    types.iter().filter(|t| **t == "AWS::EC2::Subnet").count(),
                    2
                );
            }
            StackKind::Bootstrap => {
                assert_eq!(
                    prop("WorkerRepository", "RepositoryName"),
                    format!("dagbench-{env}-worker")
                );
            }
        }
    }
}

#[test]
fn the_event_source_mapping_reports_batch_item_failures() {
    for (_, config, kind, t) in templates() {
        if kind == StackKind::Scenario3 {
            let mapped = t["Resources"].get("ProcessorEventSourceMapping").is_some();
            assert_eq!(
                mapped,
                config.step_functions.task == dagbench_infra::asl::TaskIntegration::Sqs,
                "Scenario 3 maps the queue to the function only when jobs go through it"
            );
            if !mapped {
                continue;
            }
        } else if kind != StackKind::Scenario1 {
            continue;
        }
        let m = &t["Resources"]["ProcessorEventSourceMapping"]["Properties"];
        assert_eq!(
            m["FunctionResponseTypes"],
            serde_json::json!(["ReportBatchItemFailures"])
        );
        assert_eq!(m["BatchSize"], config.lambda.batch_size);
        assert_eq!(
            m["MaximumBatchingWindowInSeconds"],
            config.lambda.batching_window_s
        );
        match config.lambda.max_concurrency {
            Some(c) => assert_eq!(m["ScalingConfig"]["MaximumConcurrency"], c),
            None => assert!(m.get("ScalingConfig").is_none()),
        }
        let f = &t["Resources"]["ProcessorFunction"]["Properties"];
        assert_eq!(f["Runtime"], "provided.al2023");
        assert_eq!(f["MemorySize"], config.lambda.memory_mb);
        assert_eq!(f["Timeout"], config.lambda.timeout_s);
        assert_eq!(
            f["Architectures"][0],
            config.lambda.architecture.lambda_name()
        );
        assert_eq!(f["LoggingConfig"]["LogFormat"], "JSON");
        // The handler's budget: the timeout, its concurrency, the batch.
        let vars = &f["Environment"]["Variables"];
        assert_eq!(
            vars["FUNCTION_TIMEOUT_MS"],
            (config.lambda.timeout_s * 1000).to_string()
        );
        assert_eq!(
            vars["JOB_CONCURRENCY"],
            config.lambda_job_concurrency().to_string()
        );
        assert_eq!(vars["BATCH_SIZE"], config.lambda.batch_size.to_string());
        match config.lambda.reserved_concurrency {
            0 => assert!(f.get("ReservedConcurrentExecutions").is_none()),
            n => assert_eq!(f["ReservedConcurrentExecutions"], n),
        }
        let q = &t["Resources"]["IncomingQueue"]["Properties"];
        assert!(q["VisibilityTimeout"].as_u64().unwrap() >= 6 * u64::from(config.lambda.timeout_s));
        assert_eq!(q["RedrivePolicy"]["maxReceiveCount"], 3);
    }
}

#[test]
fn the_worker_repository_keeps_its_tags_immutable() {
    for (_, _, kind, t) in templates() {
        if kind == StackKind::Bootstrap {
            assert_eq!(
                t["Resources"]["WorkerRepository"]["Properties"]["ImageTagMutability"],
                "IMMUTABLE"
            );
        }
    }
}

/// Collects every IAM statement of a template (roles' inline policies).
fn allow_statements(t: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (logical, r) in resources(t) {
        if r["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in r["Properties"]["Policies"].as_array().unwrap() {
            for s in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_eq!(s["Effect"], "Allow", "{logical}");
                out.push((logical.clone(), s.clone()));
            }
        }
    }
    out
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

#[test]
fn iam_is_least_privilege_with_only_the_documented_wildcards() {
    let exceptions: BTreeSet<&str> = WILDCARD_RESOURCE_ACTIONS.iter().map(|(a, _)| *a).collect();
    let mut wildcard_actions_seen = BTreeSet::new();
    for (name, config, kind, t) in templates() {
        for (role, s) in allow_statements(&t) {
            let actions: Vec<String> = as_list(&s["Action"])
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            for a in &actions {
                assert!(!a.contains('*'), "{name}/{role}: wildcard action {a}");
            }
            for resource in as_list(&s["Resource"]) {
                if resource == "*" {
                    for a in &actions {
                        assert!(
                            exceptions.contains(a.as_str()),
                            "{name}/{role}: {a} on `*` is not a documented exception"
                        );
                        wildcard_actions_seen.insert(a.clone());
                    }
                    if actions[0] == "cloudwatch:PutMetricData" {
                        assert_eq!(
                            s["Condition"]["StringEquals"]["cloudwatch:namespace"], "PerfTesting",
                            "{name}/{role}"
                        );
                    }
                } else {
                    // A trailing `*` only under one of the stack's own
                    // resources (its state machine's executions).
                    let text = resource.to_string();
                    assert!(
                        !text.contains(":*\"")
                            || text.contains("GetAtt")
                            || text.contains(&format!("{}-dag:*", kind.stack_name(&config.env))),
                        "{name}/{role}: {text}"
                    );
                }
            }
        }
    }
    assert_eq!(
        wildcard_actions_seen
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        exceptions,
        "every documented exception is used (else drop it from the list and ARCHITECTURE.md)"
    );
    let architecture = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    for action in exceptions {
        assert!(
            architecture.contains(action),
            "ARCHITECTURE.md must list {action}"
        );
    }
}

#[test]
fn storage_is_encrypted_private_and_tls_only() {
    for (name, config, _, t) in templates() {
        for (logical, r) in resources(&t) {
            let p = &r["Properties"];
            match r["Type"].as_str().unwrap() {
                "AWS::SQS::Queue" => {
                    assert_eq!(p["SqsManagedSseEnabled"], true, "{name}/{logical}")
                }
                "AWS::DynamoDB::Table" => {
                    assert_eq!(
                        p["SSESpecification"]["SSEEnabled"], true,
                        "{name}/{logical}"
                    );
                    assert_eq!(
                        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
                        true
                    );
                    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
                    assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], "ttl");
                }
                "AWS::S3::Bucket" => {
                    let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
                    assert_eq!(
                        sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                        "AES256"
                    );
                    let block = &p["PublicAccessBlockConfiguration"];
                    for key in [
                        "BlockPublicAcls",
                        "BlockPublicPolicy",
                        "IgnorePublicAcls",
                        "RestrictPublicBuckets",
                    ] {
                        assert_eq!(block[key], true, "{name}/{logical}.{key}");
                    }
                    let policy = t["Resources"][format!("{logical}Policy")].clone();
                    let deny = &policy["Properties"]["PolicyDocument"]["Statement"][0];
                    assert_eq!(deny["Effect"], "Deny", "{name}/{logical}");
                    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
                    if logical == "DataBucket" {
                        let rules = p["LifecycleConfiguration"]["Rules"].as_array().unwrap();
                        assert!(
                            rules
                                .iter()
                                .any(|r| r["ExpirationInDays"] == config.data.expiry_days),
                            "{name}: results expire"
                        );
                    }
                }
                "AWS::ECR::Repository" => {
                    assert_eq!(p["EncryptionConfiguration"]["EncryptionType"], "AES256");
                }
                _ => {}
            }
        }
    }
}

#[test]
fn templates_fit_an_inline_create_stack() {
    for (name, _, _, t) in templates() {
        let size = t.to_string().len();
        assert!(size < MAX_TEMPLATE_BODY, "{name}: {size} bytes");
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The project's .venv (installed by `make test`); its absence is a failure
/// under CI and a skip elsewhere.
fn venv_tool(name: &str) -> Option<PathBuf> {
    tool_in(".venv", name)
}

/// `name` in the project's venv `venv`, as [`venv_tool`].
fn tool_in(venv: &str, name: &str) -> Option<PathBuf> {
    let path = workspace().join(venv).join("bin").join(name);
    if path.exists() {
        Some(path)
    } else if std::env::var_os("CI").is_some() {
        panic!("{} is missing: `make test` installs it", path.display())
    } else {
        eprintln!(
            "skipped: {} is missing (`make test` installs it)",
            path.display()
        );
        None
    }
}

#[test]
fn cfn_lint_finds_no_errors_or_warnings() {
    let Some(cfn_lint) = venv_tool("cfn-lint") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("dagbench-cfn-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (name, _, _, t) in templates() {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
        files.push(path);
    }
    // One run over every template: cfn-lint's start-up dominates.
    let out = Command::new(&cfn_lint)
        .args([
            "--format",
            "parseable",
            "--regions",
            "us-east-1",
            "eu-west-1",
            "--",
        ])
        .args(&files)
        .output()
        .expect("cfn-lint runs");
    let report = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    // Exit code is a bitmask: 2 errors, 4 warnings, 8 informational.
    assert_eq!(
        out.status.code().unwrap_or(-1) & 0b110,
        0,
        "cfn-lint:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// checkov over every template of the default configuration fails no check
/// outside the committed exceptions (`checkov-skips.txt`, each with its
/// reason), and every exception is still needed.
#[test]
fn checkov_fails_nothing_outside_the_justified_exceptions() {
    let Some(checkov) = tool_in(".venv-checkov", "checkov") else {
        return;
    };
    let skips_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkov-skips.txt");
    let skips: std::collections::BTreeMap<String, String> = std::fs::read_to_string(&skips_file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (id, reason) = l.split_once(char::is_whitespace).unwrap();
            assert!(
                reason.trim().len() > 20,
                "{id} in {} needs its reason",
                skips_file.display()
            );
            (id.to_owned(), reason.trim().to_owned())
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("dagbench-checkov-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, _, _, t) in templates() {
        if name.starts_with("default-") {
            let path = dir.join(format!("{name}.json"));
            std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
        }
    }
    let out = Command::new(&checkov)
        .args([
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
        ])
        .args(["--skip-download", "-d"])
        .arg(&dir)
        .output()
        .expect("checkov runs");
    let _ = std::fs::remove_dir_all(&dir);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov's report is JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        report["summary"]["passed"].as_u64().unwrap() > 50,
        "checkov ran its checks: {}",
        report["summary"]
    );
    let failed: Vec<(String, String)> = report["results"]["failed_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check_id"].as_str().unwrap().to_owned(),
                format!(
                    "{} in {}: {}",
                    f["resource"].as_str().unwrap(),
                    f["file_path"].as_str().unwrap(),
                    f["check_name"].as_str().unwrap_or_default()
                ),
            )
        })
        .collect();
    let unexpected: Vec<String> = failed
        .iter()
        .filter(|(id, _)| !skips.contains_key(id))
        .map(|(id, what)| format!("{id} {what}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "checkov failures without a justified exception:\n  {}",
        unexpected.join("\n  ")
    );
    let stale: Vec<&String> = skips
        .keys()
        .filter(|id| !failed.iter().any(|(f, _)| f == *id))
        .collect();
    assert!(
        stale.is_empty(),
        "exceptions in {} that no check needs any more: {stale:?}",
        skips_file.display()
    );
}

/// The TAGGABLE list agrees with AWS's own resource schemas (those cfn-lint
/// ships): a type is taggable exactly when its schema has `Tags`.
#[test]
fn the_taggable_list_agrees_with_the_resource_schemas() {
    let Some(python) = venv_tool("python") else {
        return;
    };
    let mut types: Vec<&str> = TAGGABLE.to_vec();
    types.extend(UNTAGGABLE);
    let script = r#"
import json, sys, importlib.resources as r
base = r.files("cfnlint") / "data" / "schemas"
index = json.loads((base / "providers" / "us-east-1.json").read_text())
for t in sys.argv[1:]:
    schema = json.loads((base / "resources" / (index[t] + ".json")).read_text())
    print(t, "Tags" in schema.get("properties", {}))
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(&types)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (ty, has_tags) = line.split_once(' ').unwrap();
        assert_eq!(
            has_tags == "True",
            TAGGABLE.contains(&ty),
            "{ty}: the schema {} Tags",
            if has_tags == "True" { "has" } else { "has no" }
        );
    }
}

/// A new `TEST_RUN_ID` (the next test run) changes the `PerfTestRun` tag of
/// every resource, the `TestRunId` output and the processor's variable —
/// and nothing else, so a redeploy between test runs only retags.
#[test]
fn a_new_test_run_id_changes_only_the_tags_and_the_run_id() {
    for kind in StackKind::ALL {
        let before = Config {
            test_run_id: "baseline-256mb".into(),
            ..Config::default()
        };
        let after = Config {
            test_run_id: "memory-512mb".into(),
            ..Config::default()
        };
        let a = synthesize(&before, kind).to_json();
        let b = synthesize(&after, kind).to_json();
        assert_ne!(a, b, "{kind}");
        assert_eq!(
            a.replace("\"baseline-256mb\"", "\"memory-512mb\""),
            b,
            "{kind}"
        );
        let taggable = synthesize(&before, kind)
            .resources()
            .values()
            .filter(|r| TAGGABLE.contains(&r["Type"].as_str().unwrap()))
            .count();
        assert!(
            a.matches("\"baseline-256mb\"").count() >= taggable,
            "{kind}"
        );
    }
}

/// The documented dagbench.toml at the repository root states exactly the
/// defaults.
#[test]
fn the_documented_configuration_file_is_the_defaults() {
    let text = std::fs::read_to_string(workspace().join("dagbench.toml")).unwrap();
    let config = Config::from_toml(&text, "dagbench.toml").unwrap();
    assert_eq!(config, Config::default());
}

#[test]
fn the_state_machine_runs_jobs_only_through_its_configured_integration() {
    use dagbench_infra::asl::TaskIntegration;
    for (name, config, kind, t) in templates() {
        if kind != StackKind::Scenario3 {
            continue;
        }
        let sm = &t["Resources"]["StateMachine"]["Properties"];
        assert_eq!(sm["StateMachineType"], "STANDARD", "{name}");
        assert_eq!(sm["LoggingConfiguration"]["Level"], "ERROR", "{name}");
        let definition: Value =
            serde_json::from_str(sm["DefinitionString"].as_str().unwrap()).unwrap();
        assert_eq!(
            definition["States"]["Level"]["MaxConcurrency"],
            config.step_functions.max_concurrency
        );
        let text = definition.to_string();
        let orchestrator: Vec<String> = allow_statements(&t)
            .into_iter()
            .filter(|(role, _)| role == "StateMachineRole")
            .flat_map(|(_, s)| as_list(&s["Action"]))
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let processor: Vec<String> = allow_statements(&t)
            .into_iter()
            .filter(|(role, _)| role == "ProcessorRole")
            .flat_map(|(_, s)| as_list(&s["Action"]))
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        assert!(processor.contains(&"states:SendTaskSuccess".to_owned()));
        match config.step_functions.task {
            TaskIntegration::Lambda => {
                assert!(text.contains("${FunctionArn}") && !text.contains("${QueueUrl}"));
                assert!(orchestrator.contains(&"lambda:InvokeFunction".to_owned()));
                assert!(!orchestrator.contains(&"sqs:SendMessage".to_owned()));
            }
            TaskIntegration::Sqs => {
                assert!(text.contains("${QueueUrl}") && !text.contains("${FunctionArn}"));
                assert!(orchestrator.contains(&"sqs:SendMessage".to_owned()));
                assert!(!orchestrator.contains(&"lambda:InvokeFunction".to_owned()));
            }
        }
        assert_eq!(
            t["Outputs"]["StateMachineArn"]["Value"]["Ref"], "StateMachine",
            "{name}"
        );
    }
}
