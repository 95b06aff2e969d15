//! dagbench's control plane: puts the stacks of `dagbench-infra` into an
//! AWS account and takes them out again.
//!
//! - [`Aws`]: the clients, from the standard AWS environment (or an
//!   emulator's endpoint).
//! - [`stack`]: deploy one template (a change set, or `CreateStack`/
//!   `UpdateStack` where the endpoint cannot run change sets), stream its
//!   events, read its outputs, delete it.
//! - [`assets`]: the Lambda zip into the assets bucket by content hash; the
//!   worker image's digest from ECR.
//! - [`lifecycle`]: the commands — bootstrap, deploy, destroy, scale, status
//!   — and [`lifecycle::discover`], which finds a deployed scenario's queues,
//!   bucket and table for `dagbench run --scenario N`.
//! - [`costs`]: what Cost Explorer says a test run (a `PerfTestRun` tag)
//!   cost, by service.

pub mod assets;
pub mod costs;
pub mod lifecycle;
pub mod stack;
pub mod status;

use std::fmt;
use std::sync::Arc;

use aws_config::SdkConfig;

pub use lifecycle::{DeployOptions, Deployed};
pub use stack::{DeployMethod, Outcome};

/// Where progress lines go (stderr in the CLI, a buffer in tests).
#[derive(Clone)]
pub struct Log(Arc<dyn Fn(&str) + Send + Sync>);

impl Log {
    /// Lines go to `sink`.
    pub fn new(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(sink))
    }

    /// Lines go to standard error; a closed standard error loses the line,
    /// never the deployment (`eprintln!` would panic).
    #[must_use]
    pub fn stderr() -> Self {
        Self::new(|line| {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        })
    }

    /// Writes one line.
    pub fn line(&self, line: &str) {
        (self.0)(line);
    }
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Log")
    }
}

/// The control-plane clients of one account and region.
#[derive(Debug, Clone)]
pub struct Aws {
    /// The SDK configuration they were made from.
    pub sdk: SdkConfig,
    /// CloudFormation.
    pub cfn: aws_sdk_cloudformation::Client,
    /// ECS (Scenario 2's service).
    pub ecs: aws_sdk_ecs::Client,
    /// ECR (the worker image).
    pub ecr: aws_sdk_ecr::Client,
    /// STS (the account id).
    pub sts: aws_sdk_sts::Client,
    /// An emulator's endpoint, if any (S3 goes path-style over HTTP there).
    pub endpoint: Option<String>,
}

/// Why a control-plane step failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// An AWS call failed; `context` says which.
    #[error("{context}: {message}")]
    Aws {
        /// What was being done.
        context: String,
        /// AWS's message (code and text).
        message: String,
    },
    /// The stack ended in a failed state; `reasons` are the failed events.
    #[error("stack {stack} ended in {status}{}", if .reasons.is_empty() { String::new() } else { format!(":\n  {}", .reasons.join("\n  ")) })]
    StackFailed {
        /// The stack.
        stack: String,
        /// Its final status.
        status: String,
        /// Reasons given by the failed resources.
        reasons: Vec<String>,
    },
    /// Something the user must do first (build the zip, push the image,
    /// deploy a stack, …).
    #[error("{0}")]
    Precondition(String),
    /// S3 through object_store.
    #[error("{context}: {source}")]
    Store {
        /// What was being done.
        context: String,
        /// object_store's error.
        source: object_store::Error,
    },
}

impl DeployError {
    pub(crate) fn aws<E>(context: impl Into<String>, err: &E) -> Self
    where
        E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error,
    {
        let message = match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (None, Some(message)) => message.to_owned(),
            _ => unanswered(err),
        };
        DeployError::Aws {
            context: context.into(),
            message,
        }
    }
}

/// A call that got no answer from AWS ("dispatch failure" and the like):
/// its whole chain of causes, and what usually fixes it.
fn unanswered(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let chain = parts.join(": ");
    let lower = chain.to_lowercase();
    let hint = if lower.contains("credential") {
        "; no AWS credentials were found: set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    } else if lower.contains("dispatch") || lower.contains("connect") || lower.contains("dns") {
        "; AWS could not be reached: check the network, AWS_REGION and AWS_ENDPOINT_URL"
    } else {
        ""
    };
    format!("{chain}{hint}")
}

impl Aws {
    /// Clients from the standard AWS environment (region, profile,
    /// credentials chain, `AWS_ENDPOINT_URL`).
    ///
    /// # Errors
    /// [`DeployError::Precondition`] when no region is configured.
    pub async fn from_env() -> Result<Self, DeployError> {
        let sdk = dagbench_aws::config::from_env().await;
        if sdk.region().is_none() {
            return Err(DeployError::Precondition(
                "no AWS region: set AWS_REGION (or a region in your AWS profile)".into(),
            ));
        }
        // S3's endpoint, as object_store reaches it (the SDK clients read
        // the same variables themselves).
        let endpoint = dagbench_aws::s3::endpoint_from(&std::env::vars().collect());
        Ok(Self::new(sdk, endpoint))
    }

    /// Clients of an emulator at `endpoint` (tests).
    pub async fn for_endpoint(endpoint: &str, region: &str) -> Self {
        let sdk = dagbench_aws::config::for_endpoint(endpoint, region).await;
        Self::new(sdk, Some(endpoint.to_owned()))
    }

    fn new(sdk: SdkConfig, endpoint: Option<String>) -> Self {
        Self {
            cfn: aws_sdk_cloudformation::Client::new(&sdk),
            ecs: aws_sdk_ecs::Client::new(&sdk),
            ecr: aws_sdk_ecr::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
            sdk,
            endpoint,
        }
    }

    /// The account the credentials belong to.
    ///
    /// # Errors
    /// When STS cannot be reached or the credentials are invalid.
    pub async fn account(&self) -> Result<String, DeployError> {
        let identity = self.sts.get_caller_identity().send().await.map_err(|e| {
            DeployError::aws(
                "cannot identify the AWS account (sts get-caller-identity)",
                &e,
            )
        })?;
        identity.account().map(str::to_owned).ok_or_else(|| {
            DeployError::Precondition("sts get-caller-identity returned no account".into())
        })
    }

    /// The region the clients talk to.
    #[must_use]
    pub fn region(&self) -> String {
        self.sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string)
    }

    /// A bucket as an object store, with the SDK's credentials.
    ///
    /// # Errors
    /// When object_store rejects the configuration.
    pub fn bucket(&self, name: &str) -> Result<object_store::aws::AmazonS3, DeployError> {
        dagbench_aws::s3::bucket(&dagbench_aws::s3::S3Location {
            bucket: name.to_owned(),
            prefix: String::new(),
            endpoint: self.endpoint.clone(),
            region: Some(self.region()),
            credentials: self.sdk.credentials_provider(),
        })
        .map_err(|source| DeployError::Store {
            context: format!("cannot open bucket {name}"),
            source,
        })
    }
}
