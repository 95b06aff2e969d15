//! The deploy code against CloudFormation on the moto server: every stack
//! created, updated with a new `TEST_RUN_ID` (tags follow), scaled, read
//! back for `dagbench run`, destroyed. moto proves the wiring (outputs,
//! Ref/GetAtt/Sub/ImportValue, parameters); the templates' properties are
//! proven by cfn-lint and the assertions in dagbench-infra's tests, because
//! moto drops many of them silently.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dagbench_deploy::lifecycle::{self, DeployOptions};
use dagbench_deploy::stack::{self, DeployMethod, Outcome};
use dagbench_deploy::{Aws, DeployError, Log};
use dagbench_infra::stacks::keys;
use dagbench_infra::{Config, StackKind};
use dagbench_testkit::moto::{moto, unique};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt as _, PutPayload};

/// Progress lines, kept for assertions.
fn capture() -> (Log, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    (
        Log::new(move |l| sink.lock().unwrap().push(l.to_owned())),
        lines,
    )
}

/// A config of its own environment, so tests sharing the emulator do not
/// meet.
fn config() -> Config {
    Config {
        env: unique("t"),
        ..Config::default()
    }
}

/// The smallest valid zip (an empty archive: the end-of-central-directory
/// record alone). moto stores the code without running it — its Lambda
/// needs Docker, which this machine lacks — so the real `bootstrap` zip
/// (`make lambda`, a release build) is not needed to prove the wiring.
fn lambda_zip() -> PathBuf {
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend([0u8; 18]);
    let path = std::env::temp_dir().join(format!("dagbench-deploy-{}.zip", std::process::id()));
    std::fs::write(&path, zip).unwrap();
    path
}

fn options(method: DeployMethod) -> DeployOptions {
    DeployOptions {
        method,
        poll: Duration::from_millis(50),
        lambda_zip: lambda_zip(),
    }
}

/// Destroys `kind`, polling fast (moto answers at once); whether it existed.
async fn destroy(aws: &Aws, config: &Config, kind: StackKind, log: &Log) -> bool {
    lifecycle::destroy(aws, config, kind, Duration::from_millis(50), log)
        .await
        .unwrap()
}

async fn queue_tags(aws: &Aws, url: &str) -> std::collections::HashMap<String, String> {
    aws_sdk_sqs::Client::new(&aws.sdk)
        .list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn scenario_1_is_deployed_retagged_discovered_and_destroyed() {
    let Some(m) = moto() else { return };
    let aws = Aws::for_endpoint(&m.endpoint, "us-east-1").await;
    let mut config = config();
    config.test_run_id = "baseline-256mb".into();
    let (log, lines) = capture();
    let options = options(DeployMethod::Direct);

    let done = lifecycle::deploy(&aws, &config, StackKind::Scenario1, &options, &log)
        .await
        .unwrap();
    let stacks: Vec<(&str, Outcome)> = done.iter().map(|d| (d.stack.as_str(), d.outcome)).collect();
    let env = &config.env;
    assert_eq!(
        stacks,
        [
            (
                format!("dagbench-bootstrap-{env}").as_str(),
                Outcome::Created
            ),
            (format!("scenario-1-{env}").as_str(), Outcome::Created),
        ],
        "the missing bootstrap stack is deployed first"
    );
    let outputs = &done[1].outputs;
    assert_eq!(
        outputs[keys::BUCKET_NAME],
        format!("scenario-1-{env}-data-123456789012"),
        "the account id is substituted"
    );
    assert_eq!(
        outputs[keys::FUNCTION_NAME],
        format!("scenario-1-{env}-processor")
    );
    assert_eq!(outputs[keys::TEST_RUN_ID], "baseline-256mb");

    // `dagbench run --scenario 1` finds the queues, bucket and table, and
    // they are the real, wired resources.
    let found = lifecycle::discover(&aws, StackKind::Scenario1, env)
        .await
        .unwrap();
    assert_eq!(found.table_name, format!("scenario-1-{env}-jobs"));
    assert_eq!(found.test_run_id, "baseline-256mb");
    let sqs = aws_sdk_sqs::Client::new(&aws.sdk);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&found.incoming_queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    let visibility = &attributes[&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout];
    assert_eq!(visibility, "360", "6 × the 60 s Lambda timeout");
    let redrive = &attributes[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy];
    assert!(
        redrive.contains(&format!("scenario-1-{env}-dlq")),
        "{redrive}"
    );
    assert_eq!(
        queue_tags(&aws, &found.incoming_queue_url).await["PerfTestRun"],
        "baseline-256mb"
    );

    // The zip went to the assets bucket under its hash, and the function
    // points at it.
    let resources = aws
        .cfn
        .list_stack_resources()
        .stack_name(format!("scenario-1-{env}"))
        .send()
        .await
        .unwrap();
    let function = resources
        .stack_resource_summaries()
        .iter()
        .find(|r| r.logical_resource_id() == Some("ProcessorFunction"))
        .expect("the function is a resource of the stack");
    assert_eq!(
        function.physical_resource_id(),
        Some(format!("scenario-1-{env}-processor").as_str())
    );
    assert!(
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("lambda package: uploaded")),
        "{:?}",
        lines.lock().unwrap()
    );

    // Deploying the same thing again changes nothing and uploads nothing.
    let done = lifecycle::deploy(&aws, &config, StackKind::Scenario1, &options, &log)
        .await
        .unwrap();
    assert_eq!(done.len(), 1, "the bootstrap stack exists now");
    assert_eq!(done[0].outcome, Outcome::Unchanged);
    assert!(
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("already uploaded")),
        "an unchanged zip is not uploaded again"
    );

    // A new memory size updates the stack in place. (A new TEST_RUN_ID
    // retags every resource, the job table and log group included, and
    // moto 5.2.5 cannot update those two types: it has no
    // update_from_cloudformation_json for them and then fails resolving
    // references to them. Retagging is proven on the bootstrap stack below,
    // whose resource types moto can update, and by dagbench-infra's test
    // that a new TEST_RUN_ID changes nothing but the tags.)
    config.lambda.memory_mb = 512;
    let done = lifecycle::deploy(&aws, &config, StackKind::Scenario1, &options, &log)
        .await
        .unwrap();
    assert_eq!(done[0].outcome, Outcome::Updated);
    assert_eq!(done[0].outputs[keys::TEST_RUN_ID], "baseline-256mb");
    let info = stack::describe(&aws, &format!("scenario-1-{env}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.status, "UPDATE_COMPLETE");
    assert_eq!(info.tags["PerfTestRun"], "baseline-256mb");
    assert_eq!(info.tags["Purpose"], "PerformanceTesting");
    assert_eq!(info.tags["Environment"], *env);

    // Destroy empties the bucket first (CloudFormation cannot delete a
    // bucket with objects), then deletes the stack.
    let bucket = aws.bucket(&found.bucket_name).unwrap();
    bucket
        .put(
            &ObjectPath::from("run-1/merged_percentiles.json"),
            PutPayload::from_static(b"{}"),
        )
        .await
        .unwrap();
    assert!(destroy(&aws, &config, StackKind::Scenario1, &log).await);
    assert!(
        stack::describe(&aws, &format!("scenario-1-{env}"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !destroy(&aws, &config, StackKind::Scenario1, &log).await,
        "destroying what is gone is a no-op"
    );
    let err = lifecycle::discover(&aws, StackKind::Scenario1, env)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("make deploy"), "{err}");
}

#[tokio::test]
async fn scenario_2_needs_its_image_then_deploys_scales_and_reports_status() {
    let Some(m) = moto() else { return };
    let aws = Aws::for_endpoint(&m.endpoint, "us-east-1").await;
    let mut config = config();
    let env = config.env.clone();
    let (log, lines) = capture();
    let options = options(DeployMethod::Direct);

    // No image pushed yet: a clear error with the commands to push one.
    let err = lifecycle::deploy(&aws, &config, StackKind::Scenario2, &options, &log)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, DeployError::Precondition(_))
            && text.contains("no worker image is in")
            && text.contains("docker push")
            && text.contains(":$(git rev-parse --short HEAD)"),
        "{text}"
    );
    // …but the stacks it needs were deployed on the way.
    for kind in [StackKind::Bootstrap, StackKind::Shared] {
        assert!(
            stack::describe(&aws, &kind.stack_name(&env))
                .await
                .unwrap()
                .is_some()
        );
    }

    // Push two builds, each under its own tag (the repository's tags are
    // immutable). There is no Docker engine here, so the manifests are
    // minimal hand-written ones: ECR (moto) only stores and digests them.
    let repository = format!("dagbench-{env}-worker");
    let mut digests = Vec::new();
    for (tag, config_digest) in [
        (
            "build-1",
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        ),
        (
            "build-2",
            "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356",
        ),
    ] {
        let pushed = aws
            .ecr
            .put_image()
            .repository_name(&repository)
            .image_tag(tag)
            .image_manifest(format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:{config_digest}"}},"layers":[]}}"#
            ))
            .send()
            .await
            .unwrap();
        digests.push(
            pushed
                .image()
                .unwrap()
                .image_id()
                .unwrap()
                .image_digest()
                .unwrap()
                .to_owned(),
        );
        // ECR's push times have one-second resolution on moto.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let uri = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{repository}");
    let (pinned, tag) =
        dagbench_deploy::assets::image_uri(&aws, &repository, &uri, Some("build-1"))
            .await
            .unwrap();
    assert_eq!(
        (pinned, tag.as_str()),
        (format!("{uri}@{}", digests[0]), "build-1")
    );
    let err = dagbench_deploy::assets::image_uri(&aws, &repository, &uri, Some("nope"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("{uri}:nope is not in ECR")),
        "{err}"
    );
    let done = lifecycle::deploy(&aws, &config, StackKind::Scenario2, &options, &log)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, Outcome::Created);
    assert_eq!(
        done[0].outputs[keys::CLUSTER_NAME],
        format!("scenario-2-{env}-cluster")
    );

    let ecs_task = aws
        .ecs
        .describe_task_definition()
        .task_definition(format!("scenario-2-{env}-processor"))
        .send()
        .await
        .unwrap();
    let container = &ecs_task.task_definition().unwrap().container_definitions()[0];
    let image = container.image().unwrap();
    assert!(
        image.ends_with(&format!("/{repository}@{}", digests[1])),
        "the image pushed last is pinned by digest: {image}"
    );
    let environment: Vec<(&str, &str)> = container
        .environment()
        .iter()
        .map(|kv| (kv.name().unwrap(), kv.value().unwrap()))
        .collect();
    let found = lifecycle::discover(&aws, StackKind::Scenario2, &env)
        .await
        .unwrap();
    assert!(environment.contains(&("INCOMING_QUEUE_URL", found.incoming_queue_url.as_str())));
    assert!(environment.contains(&("TABLE_NAME", found.table_name.as_str())));

    // Scale up, look, scale down.
    lifecycle::scale(&aws, &config, 2, &log).await.unwrap();
    let status = lifecycle::status(&aws, &config, 5).await.unwrap();
    assert_eq!(status.desired, 2);
    assert_eq!(status.service, format!("scenario-2-{env}-service"));
    assert!(status.to_string().contains("2 desired"), "{status}");
    lifecycle::scale(&aws, &config, 0, &log).await.unwrap();
    assert_eq!(
        lifecycle::status(&aws, &config, 5).await.unwrap().desired,
        0
    );

    // A redeploy keeps the running tasks: scaled to 2, redeployed with a
    // configuration saying 1, still 2. (moto's task definition update drops
    // the container definitions — a revision its own DescribeTaskDefinition
    // cannot serialize — so the update exercised here is the service's.)
    lifecycle::scale(&aws, &config, 2, &log).await.unwrap();
    config.fargate.desired_count = 1;
    let done = lifecycle::deploy(&aws, &config, StackKind::Scenario2, &options, &log)
        .await
        .unwrap();
    assert_eq!(done[0].outcome, Outcome::Updated);
    assert_eq!(
        lifecycle::status(&aws, &config, 5).await.unwrap().desired,
        2
    );
    assert!(
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("keeping the service's 2 running tasks")),
        "{:?}",
        lines.lock().unwrap()
    );
    lifecycle::scale(&aws, &config, 0, &log).await.unwrap();
    assert_eq!(
        lifecycle::discover(&aws, StackKind::Scenario2, &env)
            .await
            .unwrap(),
        found,
        "the data plane is untouched"
    );

    // The shared VPC stays while Scenario 2 uses it.
    let err = lifecycle::destroy(
        &aws,
        &config,
        StackKind::Shared,
        Duration::from_millis(50),
        &log,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("destroy that first"), "{err}");
    assert!(destroy(&aws, &config, StackKind::Scenario2, &log).await);
    let err = lifecycle::scale(&aws, &config, 1, &log).await.unwrap_err();
    assert!(err.to_string().contains("not deployed"), "{err}");
    // moto cannot delete a stack with an AWS::EC2::RouteTable (DESIGN.md's
    // known facts), so the shared stack's deletion is not exercised here;
    // its refusal above is.
}

#[tokio::test]
async fn a_new_test_run_id_retags_the_stack_and_its_resources() {
    let Some(m) = moto() else { return };
    let aws = Aws::for_endpoint(&m.endpoint, "us-east-1").await;
    let mut config = config();
    config.test_run_id = "baseline-001".into();
    let (log, _lines) = capture();
    let options = options(DeployMethod::Direct);
    let repository_tags = |aws: Aws, config: Config| async move {
        let arn = aws
            .ecr
            .describe_repositories()
            .repository_names(format!("dagbench-{}-worker", config.env))
            .send()
            .await
            .unwrap()
            .repositories()[0]
            .repository_arn()
            .unwrap()
            .to_owned();
        aws.ecr
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let done = lifecycle::deploy(&aws, &config, StackKind::Bootstrap, &options, &log)
        .await
        .unwrap();
    assert_eq!(done[0].outcome, Outcome::Created);
    let tags = repository_tags(aws.clone(), config.clone()).await;
    assert_eq!(tags["PerfTestRun"], "baseline-001");
    assert_eq!(tags["PerfTestScenario"], "bootstrap");
    assert_eq!(tags["Project"], "dagbench");

    config.test_run_id = "baseline-002".into();
    let done = lifecycle::deploy(&aws, &config, StackKind::Bootstrap, &options, &log)
        .await
        .unwrap();
    assert_eq!(done[0].outcome, Outcome::Updated);
    assert_eq!(
        repository_tags(aws.clone(), config.clone()).await["PerfTestRun"],
        "baseline-002"
    );
    let info = stack::describe(&aws, &format!("dagbench-bootstrap-{}", config.env))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.tags["PerfTestRun"], "baseline-002");

    // Destroy empties the assets bucket and deletes the stack.
    let bucket = aws.bucket(&done[0].outputs[keys::ASSETS_BUCKET]).unwrap();
    bucket
        .put(
            &ObjectPath::from("lambda/bootstrap-x.zip"),
            PutPayload::from_static(b"PK"),
        )
        .await
        .unwrap();
    assert!(destroy(&aws, &config, StackKind::Bootstrap, &log).await);
    assert!(stack::describe(&aws, &info.name).await.unwrap().is_none());
}

#[tokio::test]
async fn an_invalid_configuration_is_rejected_before_anything_is_deployed() {
    let Some(m) = moto() else { return };
    let aws = Aws::for_endpoint(&m.endpoint, "us-east-1").await;
    let mut config = config();
    config.fargate.memory_mb = 4096;
    let (log, lines) = capture();
    let err = lifecycle::deploy(
        &aws,
        &config,
        StackKind::Scenario2,
        &options(DeployMethod::Direct),
        &log,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("fargate.memory_mb = 4096") && text.contains("512, 1024, 2048"),
        "{text}"
    );
    assert!(lines.lock().unwrap().is_empty());
    for kind in StackKind::ALL {
        assert!(
            stack::describe(&aws, &kind.stack_name(&config.env))
                .await
                .unwrap()
                .is_none()
        );
    }
}

/// The change-set path on a new stack: moto creates the resources (it
/// cannot run change sets on existing stacks, nor give outputs to stacks
/// made through one — DESIGN.md's known facts — so updates through change
/// sets are for AWS only).
#[tokio::test]
async fn a_change_set_creates_a_new_stack_and_lists_its_changes() {
    let Some(m) = moto() else { return };
    let aws = Aws::for_endpoint(&m.endpoint, "us-east-1").await;
    let config = config();
    let (log, lines) = capture();
    let done = lifecycle::deploy(
        &aws,
        &config,
        StackKind::Bootstrap,
        &options(DeployMethod::ChangeSet),
        &log,
    )
    .await
    .unwrap();
    assert_eq!(done[0].outcome, Outcome::Created);
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.contains("Add")
            && l.contains("WorkerRepository")
            && l.contains("AWS::ECR::Repository")),
        "{lines:?}"
    );
    let repositories = aws
        .ecr
        .describe_repositories()
        .repository_names(format!("dagbench-{}-worker", config.env))
        .send()
        .await
        .unwrap();
    assert_eq!(repositories.repositories().len(), 1);
}

/// A change set that was created but never executed leaves an empty stack
/// in REVIEW_IN_PROGRESS; the next deploy creates it for real instead of
/// calling it busy.
#[tokio::test]
async fn a_stack_left_in_review_is_created_on_the_next_deploy() {
    let Some(m) = moto() else { return };
    let aws = Aws::for_endpoint(&m.endpoint, "us-east-1").await;
    let config = config();
    let name = StackKind::Bootstrap.stack_name(&config.env);
    aws.cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name("abandoned")
        .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
        .template_body(dagbench_infra::synthesize(&config, StackKind::Bootstrap).to_body())
        .send()
        .await
        .unwrap();
    let before = stack::describe(&aws, &name).await.unwrap().unwrap();
    assert_eq!(before.status, "REVIEW_IN_PROGRESS");
    let (log, _) = capture();
    let done = lifecycle::deploy(
        &aws,
        &config,
        StackKind::Bootstrap,
        &options(DeployMethod::Direct),
        &log,
    )
    .await
    .unwrap();
    assert_eq!(done[0].outcome, Outcome::Created);
    assert!(
        done[0].outputs.contains_key(keys::ASSETS_BUCKET),
        "{:?}",
        done[0].outputs
    );
}

#[tokio::test]
async fn scenario_3_is_deployed_with_its_state_machine_found_and_destroyed() {
    let Some(m) = moto() else { return };
    let aws = Aws::for_endpoint(&m.endpoint, "us-east-1").await;
    let mut config = config();
    config.test_run_id = "sfn-1".into();
    let (log, _) = capture();
    let options = options(DeployMethod::Direct);
    let done = lifecycle::deploy(&aws, &config, StackKind::Scenario3, &options, &log)
        .await
        .unwrap();
    let env = &config.env;
    let outputs = &done.last().unwrap().outputs;
    assert_eq!(done.last().unwrap().stack, format!("scenario-3-{env}"));
    let arn = &outputs[keys::STATE_MACHINE_ARN];
    assert!(
        arn.ends_with(&format!(":stateMachine:scenario-3-{env}-dag")),
        "{arn}"
    );
    assert_eq!(
        outputs[keys::FUNCTION_NAME],
        format!("scenario-3-{env}-processor")
    );
    // `dagbench run --scenario 3` finds the state machine and the queues.
    assert_eq!(&lifecycle::state_machine_arn(&aws, env).await.unwrap(), arn);
    let found = lifecycle::discover(&aws, StackKind::Scenario3, env)
        .await
        .unwrap();
    assert_eq!(found.table_name, format!("scenario-3-{env}-jobs"));
    // Its configuration output is what a run's cost estimate prices.
    let deployment = lifecycle::deployment(&aws, &config, StackKind::Scenario3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        deployment.setup,
        dagbench_infra::Setup::StepFunctions(config.step_functions_setup())
    );
    let status = lifecycle::state_machine_status(&aws, env, 5).await.unwrap();
    assert_eq!(&status.arn, arn);
    assert!(destroy(&aws, &config, StackKind::Scenario3, &log).await);
    let err = lifecycle::state_machine_arn(&aws, env).await.unwrap_err();
    assert!(err.to_string().contains("make deploy-sfn"), "{err}");
}
