//! The lifecycle commands behind the Makefile's targets: bootstrap, deploy,
//! destroy, scale, status — and [`discover`], which turns a deployed
//! scenario's outputs into what a processor or the scheduler needs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_ecs::error::ProvideErrorMetadata as _;
use dagbench_aws::env::ProcessorEnv;
use dagbench_infra::names::ScenarioNames;
use dagbench_infra::stacks::{self, keys};
use dagbench_infra::tags::Tags;
use dagbench_infra::{Config, Deployment, Setup, StackKind};

use crate::stack::{self, DeployMethod, Outcome, StackInfo, StackRequest};
use crate::{Aws, DeployError, Log, assets};

/// How to deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Change sets (AWS) or direct create/update (emulators).
    pub method: DeployMethod,
    /// Time between polls of a changing stack.
    pub poll: Duration,
    /// Scenario 1's package (`make lambda` builds it).
    pub lambda_zip: PathBuf,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            method: DeployMethod::ChangeSet,
            poll: Duration::from_secs(5),
            lambda_zip: PathBuf::from("target/lambda/bootstrap/bootstrap.zip"),
        }
    }
}

/// One stack a deploy touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// The stack.
    pub stack: String,
    /// Created, updated or unchanged.
    pub outcome: Outcome,
    /// Its outputs after the deploy.
    pub outputs: BTreeMap<String, String>,
}

impl fmt::Display for Deployed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.outcome {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        };
        writeln!(f, "{} {what}", self.stack)?;
        let width = self.outputs.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &self.outputs {
            writeln!(f, "  {k:<width$}  {v}")?;
        }
        Ok(())
    }
}

fn validated(config: &Config) -> Result<(), DeployError> {
    config
        .validate()
        .map_err(|e| DeployError::Precondition(e.to_string()))
}

/// Deploys `kind`, first deploying the stacks it needs that are missing
/// (the bootstrap stack; the shared VPC for Scenario 2). Scenario 1 uploads
/// the Lambda zip; Scenario 2 pins the worker image by digest.
///
/// # Errors
/// An invalid configuration (before anything is touched), a missing zip or
/// image, CloudFormation failures.
pub async fn deploy(
    aws: &Aws,
    config: &Config,
    kind: StackKind,
    options: &DeployOptions,
    log: &Log,
) -> Result<Vec<Deployed>, DeployError> {
    validated(config)?;
    let mut done = Vec::new();
    for &dependency in stacks::dependencies(kind) {
        let name = dependency.stack_name(&config.env);
        let healthy = stack::describe(aws, &name)
            .await?
            .is_some_and(|s| crate::status::phase(&s.status) == crate::status::Phase::Succeeded);
        if !healthy {
            log.line(&format!(
                "{} needs {name}, which is not deployed: deploying it first",
                kind.stack_name(&config.env)
            ));
            done.push(deploy_one(aws, config, dependency, Vec::new(), options, log).await?);
        }
    }
    let parameters = match kind {
        StackKind::Scenario1 | StackKind::Scenario3 => {
            let bootstrap = outputs(aws, StackKind::Bootstrap, &config.env).await?;
            let bucket = output(&bootstrap, keys::ASSETS_BUCKET)?;
            let key = assets::upload_lambda(aws, &bucket, &options.lambda_zip, log).await?;
            vec![
                (keys::LAMBDA_CODE_BUCKET.to_owned(), bucket),
                (keys::LAMBDA_CODE_KEY.to_owned(), key),
            ]
        }
        StackKind::Scenario2 => {
            let bootstrap = outputs(aws, StackKind::Bootstrap, &config.env).await?;
            let (image, tag) = assets::image_uri(
                aws,
                &output(&bootstrap, keys::REPOSITORY_NAME)?,
                &output(&bootstrap, keys::REPOSITORY_URI)?,
                config.fargate.image_tag.as_deref(),
            )
            .await?;
            log.line(&format!(
                "worker image: {image} (tag {tag}{})",
                if config.fargate.image_tag.is_none() {
                    ", the image pushed last"
                } else {
                    ""
                }
            ));
            // Keep a running service's task count: a redeploy (a new
            // TEST_RUN_ID, say) must not stop a test in progress.
            let desired = if let Some(info) =
                stack::describe(aws, &kind.stack_name(&config.env)).await?
            {
                let current = service_status(aws, config, info, 0).await?.desired.max(0);
                if u32::try_from(current).ok() != Some(config.fargate.desired_count) {
                    log.line(&format!(
                        "keeping the service's {current} running tasks (fargate.desired_count applies to a new service; `dagbench scale` changes it)"
                    ));
                }
                current.to_string()
            } else {
                config.fargate.desired_count.to_string()
            };
            vec![
                (keys::IMAGE_URI.to_owned(), image),
                (keys::DESIRED_COUNT.to_owned(), desired),
            ]
        }
        StackKind::Bootstrap | StackKind::Shared => Vec::new(),
    };
    done.push(deploy_one(aws, config, kind, parameters, options, log).await?);
    Ok(done)
}

async fn deploy_one(
    aws: &Aws,
    config: &Config,
    kind: StackKind,
    parameters: Vec<(String, String)>,
    options: &DeployOptions,
    log: &Log,
) -> Result<Deployed, DeployError> {
    let template = stacks::synthesize(config, kind);
    let request = StackRequest {
        name: kind.stack_name(&config.env),
        body: template.to_body(),
        resources: template.resources().len(),
        parameters,
        tags: Tags::new(config, kind)
            .pairs()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    };
    let outcome = stack::deploy(aws, &request, options.method, log, options.poll).await?;
    let info = required(aws, kind, &config.env).await?;
    Ok(Deployed {
        stack: request.name,
        outcome,
        outputs: info.outputs,
    })
}

async fn required(aws: &Aws, kind: StackKind, env: &str) -> Result<StackInfo, DeployError> {
    let name = kind.stack_name(env);
    stack::describe(aws, &name).await?.ok_or_else(|| {
        let how = match kind {
            StackKind::Bootstrap => "dagbench bootstrap (make bootstrap)",
            StackKind::Shared => "dagbench deploy --scenario shared (make deploy-ecs)",
            StackKind::Scenario1 => "dagbench deploy --scenario 1 (make deploy)",
            StackKind::Scenario2 => "dagbench deploy --scenario 2 (make deploy-ecs)",
            StackKind::Scenario3 => "dagbench deploy --scenario 3 (make deploy-sfn)",
        };
        DeployError::Precondition(format!(
            "stack {name} is not deployed in {}: run {how} with ENV={env}",
            aws.region()
        ))
    })
}

async fn outputs(
    aws: &Aws,
    kind: StackKind,
    env: &str,
) -> Result<BTreeMap<String, String>, DeployError> {
    Ok(required(aws, kind, env).await?.outputs)
}

fn output(outputs: &BTreeMap<String, String>, key: &str) -> Result<String, DeployError> {
    outputs.get(key).cloned().ok_or_else(|| {
        DeployError::Precondition(format!(
            "the stack has no output {key}: redeploy it with this version of dagbench"
        ))
    })
}

/// Empties the stack's bucket, then deletes the stack; `false` when it was
/// not deployed. The shared VPC is kept while Scenario 2 uses it.
///
/// # Errors
/// When Scenario 2 still uses the shared stack, or a deletion fails.
pub async fn destroy(
    aws: &Aws,
    config: &Config,
    kind: StackKind,
    poll: Duration,
    log: &Log,
) -> Result<bool, DeployError> {
    let env = &config.env;
    let name = kind.stack_name(env);
    let Some(info) = stack::describe(aws, &name).await? else {
        log.line(&format!("{name} is not deployed: nothing to destroy"));
        return Ok(false);
    };
    if kind == StackKind::Shared
        && stack::describe(aws, &StackKind::Scenario2.stack_name(env))
            .await?
            .is_some()
    {
        return Err(DeployError::Precondition(format!(
            "{name} is used by {}: destroy that first (make destroy-ecs does both)",
            StackKind::Scenario2.stack_name(env)
        )));
    }
    let bucket = match kind {
        StackKind::Bootstrap => info.outputs.get(keys::ASSETS_BUCKET),
        StackKind::Scenario1 | StackKind::Scenario2 | StackKind::Scenario3 => {
            info.outputs.get(keys::BUCKET_NAME)
        }
        StackKind::Shared => None,
    };
    if let Some(bucket) = bucket {
        match assets::empty_bucket(aws, bucket, log).await {
            Ok(_) => {}
            // Already gone (deleted by hand, or a half-failed stack).
            Err(DeployError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    stack::delete(aws, &name, log, poll).await
}

/// Sets the Scenario 2 service's desired task count.
///
/// # Errors
/// When the service does not exist or ECS refuses.
pub async fn scale(aws: &Aws, config: &Config, desired: u32, log: &Log) -> Result<(), DeployError> {
    required(aws, StackKind::Scenario2, &config.env).await?;
    let names = ScenarioNames::new(StackKind::Scenario2, &config.env);
    let desired_i32 = i32::try_from(desired)
        .map_err(|_| DeployError::Precondition(format!("--desired {desired} is too large")))?;
    let out = aws
        .ecs
        .update_service()
        .cluster(names.cluster())
        .service(names.service())
        .desired_count(desired_i32)
        .send()
        .await;
    match out {
        Ok(_) => {
            log.line(&format!("{}: desired count {desired}", names.service()));
            Ok(())
        }
        Err(e)
            if matches!(
                e.code(),
                Some("ServiceNotFoundException" | "ClusterNotFoundException")
            ) =>
        {
            Err(DeployError::Precondition(format!(
                "{} is not deployed: run make deploy-ecs ENV={}",
                names.base(),
                config.env
            )))
        }
        Err(e) => Err(DeployError::aws(
            format!("cannot scale {}", names.service()),
            &e,
        )),
    }
}

/// The Scenario 2 service as `dagbench status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// The service.
    pub service: String,
    /// The stack's status.
    pub stack_status: String,
    /// Tasks wanted.
    pub desired: i32,
    /// Tasks running.
    pub running: i32,
    /// Tasks starting.
    pub pending: i32,
    /// One line per deployment.
    pub deployments: Vec<String>,
    /// The latest service events, newest first.
    pub events: Vec<String>,
}

impl fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} (stack {})", self.service, self.stack_status)?;
        writeln!(
            f,
            "  tasks: {} desired, {} running, {} pending",
            self.desired, self.running, self.pending
        )?;
        if !self.deployments.is_empty() {
            writeln!(f, "  deployments:")?;
            for d in &self.deployments {
                writeln!(f, "    {d}")?;
            }
        }
        if !self.events.is_empty() {
            writeln!(f, "  last events:")?;
            for e in &self.events {
                writeln!(f, "    {e}")?;
            }
        }
        Ok(())
    }
}

/// Scenario 3's state machine as `dagbench status --scenario 3` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachineStatus {
    /// Its ARN.
    pub arn: String,
    /// The stack's status.
    pub stack_status: String,
    /// The latest executions, newest first: name, status, start.
    pub executions: Vec<(String, String, String)>,
}

impl fmt::Display for StateMachineStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} (stack {})", self.arn, self.stack_status)?;
        if self.executions.is_empty() {
            return writeln!(f, "  no executions yet");
        }
        writeln!(f, "  latest executions:")?;
        for (name, status, started) in &self.executions {
            writeln!(f, "    {started}  {status:<9} {name}")?;
        }
        Ok(())
    }
}

/// Scenario 3's state machine and its latest `n` executions.
///
/// # Errors
/// When the stack is not deployed or Step Functions cannot be asked.
pub async fn state_machine_status(
    aws: &Aws,
    env: &str,
    n: usize,
) -> Result<StateMachineStatus, DeployError> {
    let info = required(aws, StackKind::Scenario3, env).await?;
    let arn = output(&info.outputs, keys::STATE_MACHINE_ARN)?;
    let executions = dagbench_aws::sfn::Executions::from_sdk(&aws.sdk, arn.clone())
        .recent(i32::try_from(n).unwrap_or(i32::MAX))
        .await
        .map_err(|message| DeployError::Aws {
            context: format!("listing the executions of {arn}"),
            message,
        })?;
    Ok(StateMachineStatus {
        arn,
        stack_status: info.status.clone(),
        executions,
    })
}

/// Desired, running and pending tasks, deployments and the last events of
/// the Scenario 2 service.
///
/// # Errors
/// When the stack or the service does not exist.
pub async fn status(
    aws: &Aws,
    config: &Config,
    events: usize,
) -> Result<ServiceStatus, DeployError> {
    let info = required(aws, StackKind::Scenario2, &config.env).await?;
    service_status(aws, config, info, events).await
}

/// [`status`] of the Scenario 2 stack `info`, already described.
async fn service_status(
    aws: &Aws,
    config: &Config,
    info: StackInfo,
    events: usize,
) -> Result<ServiceStatus, DeployError> {
    let names = ScenarioNames::new(StackKind::Scenario2, &config.env);
    let out = aws
        .ecs
        .describe_services()
        .cluster(names.cluster())
        .services(names.service())
        .send()
        .await
        .map_err(|e| DeployError::aws(format!("cannot describe {}", names.service()), &e))?;
    let service = out.services().first().ok_or_else(|| {
        DeployError::Precondition(format!(
            "{} has no service {}: redeploy it (make deploy-ecs)",
            info.name,
            names.service()
        ))
    })?;
    Ok(ServiceStatus {
        service: names.service(),
        stack_status: info.status,
        desired: service.desired_count(),
        running: service.running_count(),
        pending: service.pending_count(),
        deployments: service
            .deployments()
            .iter()
            .map(|d| {
                format!(
                    "{} {}{}: {} desired, {} running, {} pending ({})",
                    d.id().unwrap_or("?"),
                    d.status().unwrap_or("?"),
                    d.rollout_state()
                        .map(|r| format!(" {}", r.as_str()))
                        .unwrap_or_default(),
                    d.desired_count(),
                    d.running_count(),
                    d.pending_count(),
                    d.task_definition()
                        .and_then(|t| t.rsplit('/').next())
                        .unwrap_or("?"),
                )
            })
            .collect(),
        events: service
            .events()
            .iter()
            .take(events)
            .map(|e| {
                format!(
                    "{} {}",
                    e.created_at().map(ToString::to_string).unwrap_or_default(),
                    e.message().unwrap_or("")
                )
            })
            .collect(),
    })
}

/// The queues, bucket and table of deployed scenario `kind` in `env`, from
/// its CloudFormation outputs.
///
/// # Errors
/// When the stack is not deployed or lacks an output.
pub async fn discover(aws: &Aws, kind: StackKind, env: &str) -> Result<ProcessorEnv, DeployError> {
    let info = required(aws, kind, env).await?;
    let o = &info.outputs;
    Ok(ProcessorEnv {
        incoming_queue_url: output(o, keys::INCOMING_QUEUE_URL)?,
        outgoing_queue_url: output(o, keys::OUTGOING_QUEUE_URL)?,
        dlq_url: output(o, keys::DLQ_URL)?,
        bucket_name: output(o, keys::BUCKET_NAME)?,
        table_name: output(o, keys::TABLE_NAME)?,
        test_run_id: o
            .get(keys::TEST_RUN_ID)
            .cloned()
            .unwrap_or_else(|| "default".into()),
        batch_size: 10,
        // Only processors use it; this environment is the scheduler's.
        max_receive_count: 3,
        endpoint_url: aws.endpoint.clone(),
        results_prefix: String::new(),
    })
}

/// The state machine of deployed Scenario 3 in `env`, from its outputs.
///
/// # Errors
/// When the stack is not deployed or lacks the output.
pub async fn state_machine_arn(aws: &Aws, env: &str) -> Result<String, DeployError> {
    let info = required(aws, StackKind::Scenario3, env).await?;
    output(&info.outputs, keys::STATE_MACHINE_ARN)
}

/// Where and how deployed scenario `kind` runs, as a run records it in
/// `deployment.json`: the region and the stack's `Configuration` output,
/// with the tasks the Scenario 2 service runs now. `None` for stacks
/// deployed before that output existed.
///
/// # Errors
/// When the stack is not deployed, or ECS cannot be asked.
pub async fn deployment(
    aws: &Aws,
    config: &Config,
    kind: StackKind,
) -> Result<Option<Deployment>, DeployError> {
    let info = required(aws, kind, &config.env).await?;
    let Some(mut setup) = info
        .outputs
        .get(keys::CONFIGURATION)
        .and_then(|text| serde_json::from_str::<Setup>(text).ok())
    else {
        return Ok(None);
    };
    if let Setup::Fargate(fargate) = &mut setup {
        let tasks = service_status(aws, config, info, 0).await?.desired.max(0);
        fargate.tasks = u32::try_from(tasks).unwrap_or(0);
    }
    Ok(Some(Deployment {
        region: aws.region(),
        setup,
    }))
}
