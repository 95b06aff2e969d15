//! Step Functions (Scenario 3): the task callbacks a processor finishes a
//! job's task with ([`SfnCallbacks`], the `TaskCallbacks` port), and the
//! executions a run starts, follows and stops ([`Executions`]).

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use dagbench_runtime::ports::{CallbackError, ExecutionState, Orchestrator, TaskCallbacks};

/// Error codes that mean the task is no longer open.
const CLOSED: &[&str] = &["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"];

/// Longest `error` Step Functions takes (characters).
const MAX_ERROR: usize = 256;

fn callback_error<E>(e: SdkError<E, aws_sdk_sfn::config::http::HttpResponse>) -> CallbackError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let closed = e.code().is_some_and(|c| CLOSED.contains(&c));
    CallbackError {
        message: DisplayErrorContext(e).to_string(),
        closed,
    }
}

/// The callback API on a Step Functions client.
#[derive(Debug, Clone)]
pub struct SfnCallbacks {
    client: Client,
}

impl SfnCallbacks {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// On the SDK configuration `sdk`.
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(sdk))
    }
}

#[async_trait]
impl TaskCallbacks for SfnCallbacks {
    async fn succeeded(&self, token: &str, output: &str) -> Result<(), CallbackError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output)
            .send()
            .await
            .map(|_| ())
            .map_err(callback_error)
    }

    async fn failed(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        let error: String = error.chars().take(MAX_ERROR).collect();
        self.client
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(callback_error)
    }

    async fn heartbeat(&self, token: &str) -> Result<(), CallbackError> {
        self.client
            .send_task_heartbeat()
            .task_token(token)
            .send()
            .await
            .map(|_| ())
            .map_err(callback_error)
    }
}

/// The executions of one state machine.
#[derive(Debug, Clone)]
pub struct Executions {
    client: Client,
    state_machine_arn: String,
}

impl Executions {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The executions of `state_machine_arn` on the SDK configuration `sdk`.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), state_machine_arn)
    }

    pub fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }

    /// Starts execution `name` with `input`; returns its ARN.
    ///
    /// # Errors
    /// The service's answer, in words.
    pub async fn start(&self, name: &str, input: &str) -> Result<String, String> {
        let out = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        Ok(out.execution_arn().to_owned())
    }

    /// The state of execution `arn`.
    ///
    /// # Errors
    /// The service's answer, in words.
    pub async fn describe(&self, arn: &str) -> Result<ExecutionState, String> {
        let out = self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        let error = match (out.error(), out.cause()) {
            (None, None) => None,
            (e, c) => Some(
                [e, c]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(": "),
            ),
        };
        Ok(ExecutionState {
            status: out.status().as_str().to_owned(),
            error,
        })
    }

    /// The latest `n` executions, newest first: name, status, start.
    ///
    /// # Errors
    /// The service's answer, in words.
    pub async fn recent(&self, n: i32) -> Result<Vec<(String, String, String)>, String> {
        let out = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .max_results(n.clamp(1, 1000))
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        Ok(out
            .executions()
            .iter()
            .map(|e| {
                (
                    e.name().to_owned(),
                    e.status().as_str().to_owned(),
                    e.start_date().to_string(),
                )
            })
            .collect())
    }

    /// Stops execution `arn`, saying `cause`. Best effort.
    pub async fn stop(&self, arn: &str, cause: &str) {
        let _ = self
            .client
            .stop_execution()
            .execution_arn(arn)
            .error("dagbench.Stopped")
            .cause(cause)
            .send()
            .await;
    }
}

/// One execution, as a run follows it.
#[derive(Debug, Clone)]
pub struct FollowedExecution {
    pub executions: Executions,
    pub arn: String,
    pub callbacks: SfnCallbacks,
}

#[async_trait]
impl Orchestrator for FollowedExecution {
    async fn state(&self) -> Result<ExecutionState, String> {
        self.executions.describe(&self.arn).await
    }

    async fn stop(&self, cause: &str) {
        self.executions.stop(&self.arn, cause).await;
    }

    async fn fail_task(&self, token: &str, cause: &str) {
        let _ = self
            .callbacks
            .failed(token, dagbench_core::message::TASK_JOB_FAILED, cause)
            .await;
    }
}
