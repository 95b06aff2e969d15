//! Scenario 3: a deployed state machine releases the jobs. The run lays
//! its graph out as a plan in the stack's bucket ([`dagbench_core::plan`]:
//! chains or levels), starts one execution of the static state machine
//! with it, and follows: completions and dead letters come back on the
//! stack's queues as in the other scenarios, the execution's state is read
//! every second (a failed, timed-out or stopped execution ends the run with
//! its error), and a stopped run stops its execution.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use dagbench_aws::sfn::{Executions, FollowedExecution, SfnCallbacks};
use dagbench_core::key::ObjectKey;
use dagbench_core::plan::Plan;
use dagbench_core::{JobId, Scenario, Scheduler};
use dagbench_infra::Deployment;
use dagbench_runtime::driver::{DriverOutcome, follow};
use dagbench_runtime::ports::{Clock, SystemClock};
use dagbench_runtime::report::Orchestration;
use dagbench_store::RunStore;
use tokio::sync::watch;

use crate::RunError;
use crate::target::{Lease, ProgressFn, RunContext, StackTarget, Target};

/// A deployed Scenario 3 stack: its queues, table and bucket, and its
/// state machine.
#[derive(Debug)]
pub struct OrchestratedTarget {
    stack: StackTarget,
    executions: Executions,
    callbacks: SfnCallbacks,
    last: Mutex<Option<Orchestration>>,
}

impl OrchestratedTarget {
    /// `stack`'s resources, with the state machine `state_machine_arn`.
    pub async fn new(stack: StackTarget, state_machine_arn: String) -> Self {
        let sdk = dagbench_aws::config::from_env().await;
        Self {
            stack,
            executions: Executions::from_sdk(&sdk, state_machine_arn),
            callbacks: SfnCallbacks::from_sdk(&sdk),
            last: Mutex::new(None),
        }
    }
}

/// An execution name: unique per session, at most 80 characters of the
/// allowed set (run ids are letters, digits, `-` and `_`).
fn execution_name(run: &str, session_ms: i64) -> String {
    let stamp = format!("-{session_ms}");
    let keep = 80 - stamp.len();
    let run: String = run.chars().take(keep).collect();
    format!("{run}{stamp}")
}

/// The plan's objects, written under `dir` of the run's store.
async fn upload(
    store: &RunStore,
    plan: &Plan,
    scheduler: &Scheduler,
    run: &RunContext,
    dir: &str,
) -> Result<(), RunError> {
    let graph = scheduler.graph();
    let key = |name: String| {
        ObjectKey::new(format!("{dir}/{name}"))
            .map_err(|e| RunError::Setup(format!("plan key {dir}/{name}: {e}")))
    };
    if !plan.chains.is_empty() {
        store
            .put_bytes(
                &key("chains.json".into())?,
                Bytes::from(plan.chains_json(graph, &run.run_id)),
            )
            .await?;
    }
    for i in 0..plan.levels.len() {
        store
            .put_bytes(
                &key(format!("levels/{i}.json"))?,
                Bytes::from(plan.level_json(graph, &run.run_id, i)),
            )
            .await?;
    }
    Ok(())
}

#[async_trait]
impl Target for OrchestratedTarget {
    fn scenario(&self) -> Scenario {
        Scenario::StepFunctions
    }

    fn store(&self) -> &RunStore {
        self.stack.store()
    }

    fn workers(&self) -> u64 {
        self.stack.workers()
    }

    fn deployment(&self) -> Option<&Deployment> {
        self.stack.deployment()
    }

    fn check_graph(&self, graph: &Arc<dagbench_core::JobGraph>) -> Result<(), String> {
        Plan::of(&Scheduler::new(Arc::clone(graph)))
            .map(|_| ())
            .map_err(|e| format!("Scenario 3 cannot run this graph: {e}"))
    }

    fn orchestration(&self) -> Option<Orchestration> {
        self.last.lock().ok().and_then(|o| o.clone())
    }

    async fn lease(
        &self,
        run: &RunContext,
        take_over: bool,
    ) -> Result<Option<Box<dyn Lease>>, RunError> {
        self.stack.lease(run, take_over).await
    }

    async fn completed_jobs(&self, run: &RunContext) -> Result<Vec<JobId>, RunError> {
        self.stack.completed_jobs(run).await
    }

    async fn drive(
        &self,
        scheduler: Scheduler,
        run: &RunContext,
        stop: watch::Receiver<bool>,
        on_progress: &mut ProgressFn<'_>,
    ) -> Result<DriverOutcome, RunError> {
        let plan = Plan::of(&scheduler).map_err(|e| RunError::Setup(e.to_string()))?;
        let session = SystemClock.now().unix_millis();
        let dir = format!("{}/plan/{session}", run.run_id);
        let env = self.stack.env();
        let mut arn = String::new();
        if plan.jobs() > 0 {
            upload(self.store(), &plan, &scheduler, run, &dir).await?;
            let prefix = match env.results_prefix.trim_matches('/') {
                "" => dir.clone(),
                p => format!("{p}/{dir}"),
            };
            let input = dagbench_infra::asl::execution_input(
                &env.bucket_name,
                &prefix,
                !plan.chains.is_empty(),
                plan.levels.len(),
            );
            arn = self
                .executions
                .start(
                    &execution_name(run.run_id.as_str(), session),
                    &input.to_string(),
                )
                .await
                .map_err(|e| {
                    RunError::Setup(format!(
                        "cannot start an execution of {}: {e}",
                        self.executions.state_machine_arn()
                    ))
                })?;
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Orchestration {
                plan: plan.kind.as_str().to_owned(),
                chains: plan.chains.len() as u64,
                levels: plan.levels.len() as u64,
                execution_arn: arn.clone(),
                state_transitions: plan.state_transitions(),
                child_executions: plan.child_executions(),
            });
        }
        let followed = FollowedExecution {
            executions: self.executions.clone(),
            arn,
            callbacks: self.callbacks.clone(),
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Ok(follow(
            scheduler,
            &self.stack.side().queues,
            &followed,
            clock,
            &run.driver_config(),
            stop,
            on_progress,
        )
        .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_names_fit_and_differ_by_session() {
        let long = "r".repeat(120);
        let a = execution_name(&long, 1_700_000_000_000);
        assert_eq!(a.len(), 80);
        assert!(a.ends_with("-1700000000000"));
        assert_ne!(execution_name("run-1", 1), execution_name("run-1", 2));
    }
}
