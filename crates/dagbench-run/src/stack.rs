//! Finds a deployed scenario's stack: from its CloudFormation outputs
//! (`scenario-N-{env}`), or — for a stack made elsewhere — from the
//! processor variables (`INCOMING_QUEUE_URL`, `OUTGOING_QUEUE_URL`,
//! `DLQ_URL`, `BUCKET_NAME`, `TABLE_NAME`) when `INCOMING_QUEUE_URL` is set;
//! Scenario 3's state machine from its `StateMachineArn` output, or from
//! `STATE_MACHINE_ARN`.

use dagbench_aws::env::ProcessorEnv;
use dagbench_core::Scenario;
use dagbench_infra::{Config, StackKind};

use crate::RunError;
use crate::orchestrated::OrchestratedTarget;
use crate::target::{StackTarget, Target};

/// Which deployed stack a run uses.
#[derive(Debug, Clone)]
pub struct StackSpec {
    /// A cloud scenario.
    pub scenario: Scenario,
    /// Its environment (`scenario-N-{env}`).
    pub env: String,
    /// The configuration it was deployed with, when no deployment record
    /// can be read (cost estimates only).
    pub config: Config,
    /// Concurrent processors, as the report should state them.
    pub workers: Option<u32>,
}

/// The target of `spec`, and lines worth telling the user.
///
/// # Errors
/// When the stack is not deployed, lacks an output, or the variables of a
/// stack made elsewhere are incomplete.
pub async fn resolve(spec: &StackSpec) -> Result<(Box<dyn Target>, Vec<String>), RunError> {
    let (stack, mut notes) = resolve_stack(spec).await?;
    if spec.scenario != Scenario::StepFunctions {
        return Ok((Box::new(stack), notes));
    }
    // Scenario 3 also needs its state machine.
    let arn = match std::env::var("STATE_MACHINE_ARN") {
        Ok(arn) if !arn.trim().is_empty() => {
            notes.push(format!("state machine {arn} (from STATE_MACHINE_ARN)"));
            arn
        }
        _ if std::env::var_os("INCOMING_QUEUE_URL").is_some() => {
            return Err(RunError::Setup(
                "Scenario 3 on a stack given by INCOMING_QUEUE_URL needs STATE_MACHINE_ARN too (the state machine that runs the jobs)".to_owned(),
            ));
        }
        _ => {
            let aws = dagbench_deploy::Aws::from_env().await?;
            let arn = dagbench_deploy::lifecycle::state_machine_arn(&aws, &spec.env).await?;
            notes.push(format!("state machine {arn}"));
            arn
        }
    };
    Ok((Box::new(OrchestratedTarget::new(stack, arn).await), notes))
}

async fn resolve_stack(spec: &StackSpec) -> Result<(StackTarget, Vec<String>), RunError> {
    let workers = spec.workers.map_or(0, u64::from);
    let Some(kind) = StackKind::of_scenario(spec.scenario) else {
        return Err(RunError::Setup(
            "the local scenario has no stack".to_owned(),
        ));
    };
    if std::env::var_os("INCOMING_QUEUE_URL").is_some() {
        let env = ProcessorEnv::from_env().map_err(|e| RunError::Setup(e.to_string()))?;
        let notes = vec![format!(
            "{}: jobs to {} (from INCOMING_QUEUE_URL and the other processor variables)",
            spec.scenario, env.incoming_queue_url
        )];
        let stack = format!("the stack of {}", env.incoming_queue_url);
        return Ok((
            StackTarget::new(spec.scenario, stack, env, None, workers).await?,
            notes,
        ));
    }
    let aws = dagbench_deploy::Aws::from_env().await?;
    let env = dagbench_deploy::lifecycle::discover(&aws, kind, &spec.env).await?;
    let mut notes = vec![format!(
        "stack {} in {}: jobs to {}",
        kind.stack_name(&spec.env),
        aws.region(),
        env.incoming_queue_url
    )];
    let config = Config {
        env: spec.env.clone(),
        ..spec.config.clone()
    };
    // For the cost estimate only: a scheduler without ECS or CloudFormation
    // read rights still runs, priced as the configuration says.
    let deployment = match dagbench_deploy::lifecycle::deployment(&aws, &config, kind).await {
        Ok(d) => d,
        Err(e) => {
            notes.push(format!(
                "warning: cannot read how {} is configured ({e}); its cost estimate uses the configuration file",
                kind.stack_name(&spec.env)
            ));
            None
        }
    };
    Ok((
        StackTarget::new(
            spec.scenario,
            format!("stack {}", kind.stack_name(&spec.env)),
            env,
            deployment,
            workers,
        )
        .await?,
        notes,
    ))
}
