//! The deployment configuration: one TOML file (`dagbench.toml`), whose
//! defaults are the source document's constants, overridden by environment
//! variables (`ENV`, `TEST_RUN_ID`) and flags. [`Config::validate`] rejects
//! anything AWS would reject minutes into a deployment — an invalid Fargate
//! pair, memory out of range, a visibility timeout shorter than six Lambda
//! timeouts — naming the setting and the allowed values.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fargate;

/// CPU architecture of the Lambda function or the Fargate task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Architecture {
    /// Intel/AMD; what `make lambda` builds.
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    /// Graviton: cheaper per GB-second, needs an arm64 build.
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// Lambda's name for it (`Architectures`).
    #[must_use]
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// ECS's name for it (`RuntimePlatform.CpuArchitecture`).
    #[must_use]
    pub fn ecs_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "X86_64",
            Architecture::Arm64 => "ARM64",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lambda_name())
    }
}

/// Scenario 1's function and its event source mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LambdaConfig {
    /// Memory, MB (128–10240); CPU scales with it.
    pub memory_mb: u32,
    /// Timeout, seconds (1–900).
    pub timeout_s: u32,
    /// Messages per invocation (1–10000; above 10 needs a batching window).
    pub batch_size: u32,
    /// Seconds the event source mapping may wait to fill a batch (0–300).
    pub batching_window_s: u32,
    /// Most concurrent invocations the mapping starts (2–1000); none = no
    /// limit besides the account's.
    pub max_concurrency: Option<u32>,
    /// Concurrent executions reserved for the function, which are also its
    /// ceiling: a runaway test cannot take the account's whole Lambda
    /// concurrency, and other functions cannot starve a test. 0 reserves
    /// none (the function shares the account's unreserved pool; needed on
    /// accounts whose concurrency quota is below this plus the 100 AWS
    /// keeps unreserved).
    pub reserved_concurrency: u32,
    /// Jobs one invocation runs at once (1–256); none = one per 2 MB of
    /// memory, at most an eighth of Lambda's 1,024 open files (128 at the
    /// default 256 MB). The rest of a batch waits its turn.
    pub job_concurrency: Option<u32>,
    /// `x86_64` or `arm64`.
    pub architecture: Architecture,
    /// Days the function's logs are kept.
    pub log_retention_days: u32,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        Self {
            memory_mb: 256,
            timeout_s: 60,
            batch_size: 10,
            batching_window_s: 0,
            max_concurrency: None,
            reserved_concurrency: 100,
            job_concurrency: None,
            architecture: Architecture::X86_64,
            log_retention_days: 14,
        }
    }
}

/// Scenario 2's task and service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FargateConfig {
    /// CPU units: 256 (0.25 vCPU), 512, 1024, 2048, 4096, 8192, 16384.
    pub cpu: u32,
    /// Memory, MiB: one of the values Fargate allows for `cpu`.
    pub memory_mb: u32,
    /// `x86_64` or `arm64`.
    pub architecture: Architecture,
    /// Jobs each task processes at once (`dagbench worker --concurrency`).
    pub concurrency: u32,
    /// Messages per receive (1–10).
    pub batch_size: u32,
    /// Tasks the service starts with when it is created; later deploys keep
    /// the running count (change it with `dagbench scale`).
    pub desired_count: u32,
    /// Seconds ECS waits after SIGTERM before SIGKILL (2–120).
    pub stop_timeout_s: u32,
    /// The worker image's tag in the bootstrap repository, which keeps
    /// tags immutable; none = the image pushed last. Deploys pin the
    /// image's digest either way.
    pub image_tag: Option<String>,
    /// Days the tasks' logs are kept.
    pub log_retention_days: u32,
}

impl Default for FargateConfig {
    fn default() -> Self {
        Self {
            cpu: 256,
            memory_mb: 512,
            architecture: Architecture::X86_64,
            concurrency: 4,
            batch_size: 10,
            desired_count: 0,
            stop_timeout_s: 30,
            image_tag: None,
            log_retention_days: 14,
        }
    }
}

/// The queues of both scenarios.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// The incoming queue's visibility timeout, seconds; at least six
    /// Lambda timeouts (AWS's advice for event source mappings). Default:
    /// exactly six.
    pub visibility_timeout_s: Option<u32>,
    /// Receives before a message moves to the DLQ.
    pub max_receive_count: u32,
    /// Days the incoming and outgoing queues keep a message (1–14).
    pub retention_days: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            visibility_timeout_s: None,
            max_receive_count: 3,
            retention_days: 4,
        }
    }
}

/// The data buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Days before objects in a data bucket expire.
    pub expiry_days: u32,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self { expiry_days: 7 }
    }
}

/// Scenario 3's state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepFunctionsConfig {
    /// How a job runs: `sqs` (the message with a task token to the
    /// incoming queue; the function through its event source mapping, or
    /// `dagbench worker`, finishes the task) or `lambda` (the function,
    /// invoked directly).
    pub task: crate::asl::TaskIntegration,
    /// Child executions a Distributed Map runs at once (1–10000).
    pub max_concurrency: u32,
    /// Seconds a callback task waits without a heartbeat before it is sent
    /// again (10–86400); processors beat every half claim.
    pub heartbeat_s: u32,
    /// Days the execution logs are kept.
    pub log_retention_days: u32,
}

impl Default for StepFunctionsConfig {
    fn default() -> Self {
        Self {
            task: crate::asl::TaskIntegration::Sqs,
            max_concurrency: 1000,
            heartbeat_s: 600,
            log_retention_days: 14,
        }
    }
}

/// Everything a deployment is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The `Project` tag on every resource.
    pub prefix: String,
    /// The environment: part of every stack and resource name.
    pub env: String,
    /// The `PerfTestRun` tag: which test run the costs belong to.
    pub test_run_id: String,
    /// Scenario 1.
    pub lambda: LambdaConfig,
    /// Scenario 2.
    pub fargate: FargateConfig,
    /// Scenario 3.
    pub step_functions: StepFunctionsConfig,
    /// Both scenarios' queues.
    pub queues: QueueConfig,
    /// Both scenarios' data buckets.
    pub data: DataConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            prefix: "dagbench".into(),
            env: "dev".into(),
            test_run_id: "default".into(),
            lambda: LambdaConfig::default(),
            fargate: FargateConfig::default(),
            step_functions: StepFunctionsConfig::default(),
            queues: QueueConfig::default(),
            data: DataConfig::default(),
        }
    }
}

/// Values from flags and the environment, each replacing the file's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--env` / `ENV`.
    pub env: Option<String>,
    /// `--test-run-id` / `TEST_RUN_ID`.
    pub test_run_id: Option<String>,
    /// `--lambda-memory`.
    pub lambda_memory_mb: Option<u32>,
    /// `--lambda-timeout`.
    pub lambda_timeout_s: Option<u32>,
    /// `--lambda-reserved-concurrency`.
    pub lambda_reserved_concurrency: Option<u32>,
    /// `--batch-size`: the mapping's batch in Scenario 1, the receive batch
    /// in Scenario 2.
    pub batch_size: Option<u32>,
    /// `--fargate-cpu`.
    pub fargate_cpu: Option<u32>,
    /// `--fargate-memory`.
    pub fargate_memory_mb: Option<u32>,
    /// `--sfn-task`.
    pub step_functions_task: Option<crate::asl::TaskIntegration>,
}

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The setting, as written in the file (`fargate.memory_mb`).
    pub setting: &'static str,
    /// Its value.
    pub value: String,
    /// What is allowed instead.
    pub allowed: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.setting, self.value, self.allowed)
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid TOML or has unknown or mistyped settings.
    #[error("{origin}: {message}")]
    Parse {
        /// The file.
        origin: String,
        /// toml's message, with line and column.
        message: String,
    },
    /// Settings out of range or inconsistent with each other.
    #[error("invalid configuration ({} problem{}):\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Invalid(Vec<Problem>),
}

/// Retention periods CloudWatch Logs accepts, days.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Rounds of `lambda.job_concurrency` jobs one invocation's batch may hold.
pub const MAX_WAVES: u32 = 8;

/// Longest `env`: the longest name built from it (the assets bucket,
/// `dagbench-assets-{env}-{account}-{region}`) must fit S3's 63 characters.
pub const MAX_ENV_LEN: usize = 16;

impl Config {
    /// Parses `text` (the contents of `origin`); unknown settings are errors.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] naming the file, line and setting.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// The configuration as TOML (what `dagbench config` prints).
    #[must_use]
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Replaces the settings `overrides` gives.
    pub fn apply(&mut self, overrides: &Overrides) {
        let o = overrides.clone();
        if let Some(v) = o.env {
            self.env = v;
        }
        if let Some(v) = o.test_run_id {
            self.test_run_id = v;
        }
        if let Some(v) = o.lambda_memory_mb {
            self.lambda.memory_mb = v;
        }
        if let Some(v) = o.lambda_timeout_s {
            self.lambda.timeout_s = v;
        }
        if let Some(v) = o.lambda_reserved_concurrency {
            self.lambda.reserved_concurrency = v;
        }
        if let Some(v) = o.batch_size {
            self.lambda.batch_size = v;
            self.fargate.batch_size = v;
        }
        if let Some(v) = o.fargate_cpu {
            self.fargate.cpu = v;
        }
        if let Some(v) = o.fargate_memory_mb {
            self.fargate.memory_mb = v;
        }
        if let Some(v) = o.step_functions_task {
            self.step_functions.task = v;
        }
    }

    /// Jobs one invocation of Scenario 1's function runs at once.
    #[must_use]
    pub fn lambda_job_concurrency(&self) -> u32 {
        self.lambda.job_concurrency.unwrap_or_else(|| {
            dagbench_core::message::invocation_concurrency(
                self.lambda.memory_mb,
                dagbench_core::message::LAMBDA_OPEN_FILES,
            ) as u32
        })
    }

    /// The incoming queues' visibility timeout, seconds.
    #[must_use]
    pub fn visibility_timeout_s(&self) -> u32 {
        self.queues
            .visibility_timeout_s
            .unwrap_or(self.lambda.timeout_s.saturating_mul(6))
    }

    /// Every problem with this configuration, or none.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] listing each setting that is wrong and what
    /// it may be instead.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, setting: &'static str, value: String, allowed: String| {
            if !ok {
                problems.push(Problem {
                    setting,
                    value,
                    allowed,
                });
            }
        };
        check(
            tag_value_ok(&self.prefix, 64),
            "prefix",
            quoted(&self.prefix),
            "1 to 64 letters, digits, spaces or _ . : / = + - @".into(),
        );
        check(
            env_ok(&self.env),
            "env",
            quoted(&self.env),
            format!(
                "1 to {MAX_ENV_LEN} lowercase letters, digits or hyphens, starting with a letter or digit (it is part of bucket names)"
            ),
        );
        check(
            tag_value_ok(&self.test_run_id, 128),
            "test_run_id",
            quoted(&self.test_run_id),
            "1 to 128 letters, digits, spaces or _ . : / = + - @ (a tag value)".into(),
        );

        let l = &self.lambda;
        check(
            (128..=10240).contains(&l.memory_mb),
            "lambda.memory_mb",
            l.memory_mb.to_string(),
            "Lambda memory is 128 to 10240 MB".into(),
        );
        check(
            (1..=900).contains(&l.timeout_s),
            "lambda.timeout_s",
            l.timeout_s.to_string(),
            "a Lambda timeout is 1 to 900 seconds".into(),
        );
        check(
            (1..=10_000).contains(&l.batch_size),
            "lambda.batch_size",
            l.batch_size.to_string(),
            "an SQS event source mapping takes 1 to 10000 messages per batch".into(),
        );
        check(
            (0..=300).contains(&l.batching_window_s),
            "lambda.batching_window_s",
            l.batching_window_s.to_string(),
            "0 to 300 seconds".into(),
        );
        check(
            l.batch_size <= 10 || l.batching_window_s >= 1,
            "lambda.batch_size",
            l.batch_size.to_string(),
            "batches above 10 messages need lambda.batching_window_s of at least 1 second".into(),
        );
        if let Some(c) = l.job_concurrency {
            check(
                (1..=256).contains(&c),
                "lambda.job_concurrency",
                c.to_string(),
                "1 to 256 jobs at once per invocation (Lambda allows 1,024 open files), or leave it out for one per 2 MB of memory".into(),
            );
        }
        let per_invocation = self.lambda_job_concurrency();
        check(
            l.batch_size <= MAX_WAVES * per_invocation,
            "lambda.batch_size",
            l.batch_size.to_string(),
            format!(
                "at most {} records: one invocation runs {per_invocation} jobs at once (lambda.job_concurrency), and a batch of more than {MAX_WAVES} rounds of that leaves records waiting past the deadline, sent back, using up their receives",
                MAX_WAVES * per_invocation
            ),
        );
        if let Some(c) = l.max_concurrency {
            check(
                (2..=1000).contains(&c),
                "lambda.max_concurrency",
                c.to_string(),
                "2 to 1000 concurrent invocations, or leave it out for no limit".into(),
            );
            check(
                l.reserved_concurrency == 0 || c <= l.reserved_concurrency,
                "lambda.max_concurrency",
                c.to_string(),
                format!(
                    "at most lambda.reserved_concurrency ({}), the function's ceiling",
                    l.reserved_concurrency
                ),
            );
        }
        check(
            LOG_RETENTION_DAYS.contains(&l.log_retention_days),
            "lambda.log_retention_days",
            l.log_retention_days.to_string(),
            retention_values(),
        );

        let q = &self.queues;
        let visibility = self.visibility_timeout_s();
        let least = l.timeout_s.saturating_mul(6);
        check(
            visibility >= least,
            "queues.visibility_timeout_s",
            visibility.to_string(),
            format!(
                "at least 6 × lambda.timeout_s = {least} seconds, so a batch is not redelivered while a function still works on it"
            ),
        );
        check(
            visibility <= 43_200,
            "queues.visibility_timeout_s",
            visibility.to_string(),
            "SQS allows at most 43200 seconds (12 hours)".into(),
        );
        check(
            (1..=1000).contains(&q.max_receive_count),
            "queues.max_receive_count",
            q.max_receive_count.to_string(),
            "1 to 1000 receives before the DLQ".into(),
        );
        check(
            (1..=14).contains(&q.retention_days),
            "queues.retention_days",
            q.retention_days.to_string(),
            "SQS keeps messages 1 to 14 days".into(),
        );

        let f = &self.fargate;
        match fargate::sizes(f.cpu) {
            None => check(
                false,
                "fargate.cpu",
                f.cpu.to_string(),
                format!("Fargate CPU is one of {}", fargate::cpu_values()),
            ),
            Some(sizes) => check(
                sizes.allows(f.memory_mb),
                "fargate.memory_mb",
                f.memory_mb.to_string(),
                format!(
                    "with fargate.cpu = {} Fargate allows {}",
                    f.cpu,
                    sizes.describe_memory()
                ),
            ),
        }
        check(
            (1..=256).contains(&f.concurrency),
            "fargate.concurrency",
            f.concurrency.to_string(),
            "1 to 256 jobs at once per task".into(),
        );
        check(
            (1..=10).contains(&f.batch_size),
            "fargate.batch_size",
            f.batch_size.to_string(),
            "an SQS receive returns 1 to 10 messages".into(),
        );
        check(
            f.desired_count <= 1000,
            "fargate.desired_count",
            f.desired_count.to_string(),
            "0 to 1000 tasks".into(),
        );
        check(
            (2..=120).contains(&f.stop_timeout_s),
            "fargate.stop_timeout_s",
            f.stop_timeout_s.to_string(),
            "ECS waits 2 to 120 seconds after SIGTERM".into(),
        );
        if let Some(tag) = &f.image_tag {
            check(
                image_tag_ok(tag),
                "fargate.image_tag",
                quoted(tag),
                "an image tag: 1 to 128 letters, digits, _ . -, not starting with . or -, or leave it out for the image pushed last".into(),
            );
        }
        check(
            LOG_RETENTION_DAYS.contains(&f.log_retention_days),
            "fargate.log_retention_days",
            f.log_retention_days.to_string(),
            retention_values(),
        );
        let sf = &self.step_functions;
        check(
            (1..=10_000).contains(&sf.max_concurrency),
            "step_functions.max_concurrency",
            sf.max_concurrency.to_string(),
            "a Distributed Map runs 1 to 10000 child executions at once".into(),
        );
        check(
            (10..=86_400).contains(&sf.heartbeat_s),
            "step_functions.heartbeat_s",
            sf.heartbeat_s.to_string(),
            "10 to 86400 seconds".into(),
        );
        check(
            LOG_RETENTION_DAYS.contains(&sf.log_retention_days),
            "step_functions.log_retention_days",
            sf.log_retention_days.to_string(),
            retention_values(),
        );
        check(
            (1..=3650).contains(&self.data.expiry_days),
            "data.expiry_days",
            self.data.expiry_days.to_string(),
            "1 to 3650 days".into(),
        );

        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn retention_values() -> String {
    let days: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
    format!("CloudWatch Logs keeps {} days", days.join(", "))
}

fn env_ok(env: &str) -> bool {
    let b = env.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_ENV_LEN
        && b[0].is_ascii_alphanumeric()
        && !env.ends_with('-')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn tag_value_ok(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value.trim() == value
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c))
}

fn image_tag_ok(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(config: &Config) -> Vec<Problem> {
        match config.validate() {
            Ok(()) => Vec::new(),
            Err(ConfigError::Invalid(p)) => p,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn defaults_are_the_source_documents_constants_and_valid() {
        let c = Config::default();
        assert_eq!(c.lambda.memory_mb, 256);
        assert_eq!(c.lambda.timeout_s, 60);
        assert_eq!(c.lambda.batch_size, 10);
        assert_eq!(c.fargate.cpu, 256);
        assert_eq!(c.fargate.memory_mb, 512);
        assert_eq!(c.fargate.desired_count, 0);
        assert_eq!(c.queues.max_receive_count, 3);
        assert_eq!(c.lambda.reserved_concurrency, 100);
        assert_eq!(c.fargate.image_tag, None);
        assert_eq!(c.data.expiry_days, 7);
        assert_eq!(c.visibility_timeout_s(), 360);
        c.validate().unwrap();
    }

    #[test]
    fn a_bad_fargate_pair_names_the_memory_values_of_its_cpu() {
        let mut c = Config::default();
        c.fargate.memory_mb = 4096;
        let p = problems(&c);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].setting, "fargate.memory_mb");
        assert_eq!(
            p[0].to_string(),
            "fargate.memory_mb = 4096: with fargate.cpu = 256 Fargate allows 512, 1024, 2048 MiB"
        );
        c.fargate.cpu = 300;
        let p = problems(&c);
        assert_eq!(p[0].setting, "fargate.cpu");
        assert!(p[0].allowed.contains("256, 512, 1024"), "{}", p[0]);
    }

    #[test]
    fn lambda_limits_are_enforced_with_the_allowed_range() {
        let mut c = Config::default();
        c.lambda.memory_mb = 64;
        c.lambda.timeout_s = 901;
        let p = problems(&c);
        let settings: Vec<&str> = p.iter().map(|p| p.setting).collect();
        assert_eq!(settings, ["lambda.memory_mb", "lambda.timeout_s"]);
        assert!(p[0].allowed.contains("128 to 10240"));
        assert!(p[1].allowed.contains("1 to 900"));
        c.lambda.memory_mb = 10_240;
        c.lambda.timeout_s = 900;
        c.validate().unwrap();
    }

    #[test]
    fn the_mapping_cannot_start_more_than_the_function_reserves() {
        let mut c = Config::default();
        c.lambda.max_concurrency = Some(200);
        let p = problems(&c);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].to_string(),
            "lambda.max_concurrency = 200: at most lambda.reserved_concurrency (100), the function's ceiling"
        );
        c.lambda.reserved_concurrency = 0;
        c.validate().unwrap();
        c.lambda.reserved_concurrency = 200;
        c.validate().unwrap();
    }

    #[test]
    fn a_lambda_batch_must_fit_a_few_rounds_of_its_job_concurrency() {
        let mut c = Config::default();
        assert_eq!(c.lambda_job_concurrency(), 128);
        c.lambda.batch_size = 1024;
        c.lambda.batching_window_s = 1;
        c.validate().unwrap();
        c.lambda.batch_size = 10_000;
        let p = problems(&c);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].to_string().starts_with(
                "lambda.batch_size = 10000: at most 1024 records: one invocation runs 128 jobs at once"
            ),
            "{}",
            p[0]
        );
        c.lambda.memory_mb = 128;
        assert_eq!(c.lambda_job_concurrency(), 64);
        c.lambda.job_concurrency = Some(0);
        assert_eq!(problems(&c)[0].setting, "lambda.job_concurrency");
    }

    #[test]
    fn visibility_must_cover_six_lambda_timeouts() {
        let mut c = Config::default();
        c.queues.visibility_timeout_s = Some(300);
        let p = problems(&c);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].setting, "queues.visibility_timeout_s");
        assert!(
            p[0].allowed.contains("6 × lambda.timeout_s = 360"),
            "{}",
            p[0]
        );
        c.queues.visibility_timeout_s = Some(360);
        c.validate().unwrap();
    }

    #[test]
    fn big_batches_need_a_batching_window() {
        let mut c = Config::default();
        c.lambda.batch_size = 100;
        assert_eq!(problems(&c)[0].setting, "lambda.batch_size");
        c.lambda.batching_window_s = 1;
        c.validate().unwrap();
    }

    #[test]
    fn names_that_would_break_resource_names_are_rejected() {
        for env in [
            "",
            "Dev",
            "dev_1",
            "-dev",
            "dev-",
            "a-very-long-environment",
        ] {
            let c = Config {
                env: env.into(),
                ..Config::default()
            };
            assert_eq!(problems(&c)[0].setting, "env", "{env:?}");
        }
        let c = Config {
            test_run_id: "baseline;rm".into(),
            ..Config::default()
        };
        assert_eq!(problems(&c)[0].setting, "test_run_id");
    }

    #[test]
    fn the_file_is_parsed_strictly_and_overrides_win() {
        let mut c = Config::from_toml(
            "prefix = \"acme\"\n[lambda]\nmemory_mb = 512\narchitecture = \"arm64\"\n[fargate]\ncpu = 1024\nmemory_mb = 2048\n",
            "dagbench.toml",
        )
        .unwrap();
        assert_eq!(c.prefix, "acme");
        assert_eq!(c.lambda.memory_mb, 512);
        assert_eq!(c.lambda.architecture, Architecture::Arm64);
        assert_eq!(c.lambda.timeout_s, 60, "unset settings keep their defaults");
        c.apply(&Overrides {
            env: Some("prod".into()),
            test_run_id: Some("memory-1024".into()),
            lambda_memory_mb: Some(1024),
            batch_size: Some(5),
            fargate_memory_mb: Some(4096),
            ..Overrides::default()
        });
        assert_eq!(c.env, "prod");
        assert_eq!(c.test_run_id, "memory-1024");
        assert_eq!(c.lambda.memory_mb, 1024);
        assert_eq!((c.lambda.batch_size, c.fargate.batch_size), (5, 5));
        assert_eq!((c.fargate.cpu, c.fargate.memory_mb), (1024, 4096));
        c.validate().unwrap();

        let err = Config::from_toml("[lambda]\nmemroy_mb = 512\n", "dagbench.toml").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("dagbench.toml:") && text.contains("memroy_mb"),
            "{text}"
        );
        let err = Config::from_toml("[lambda]\nmemory_mb = \"big\"\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("memory_mb"), "{err}");
    }

    #[test]
    fn printed_configuration_reads_back_the_same() {
        let mut c = Config::default();
        c.lambda.max_concurrency = Some(50);
        c.lambda.reserved_concurrency = 0;
        c.fargate.image_tag = Some("v1.2".into());
        c.queues.visibility_timeout_s = Some(400);
        let back = Config::from_toml(&c.to_toml(), "printed").unwrap();
        assert_eq!(back, c);
    }
}
