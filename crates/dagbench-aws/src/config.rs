//! SDK configuration: the standard AWS environment (region, profile,
//! credentials chain, `AWS_ENDPOINT_URL`), or an explicit endpoint with
//! static credentials for an emulator on loopback.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Throttling, 5xx and transient network errors are retried with
/// exponential backoff and jitter (the SDK's standard mode), five attempts.
fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(5)
}

/// The standard chain, as every AWS tool reads it.
pub async fn from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retries())
        .load()
        .await
}

/// An emulator at `endpoint` (e.g. `http://127.0.0.1:5000`) with test
/// credentials; nothing is read from the environment.
pub async fn for_endpoint(endpoint: &str, region: &str) -> SdkConfig {
    let credentials = aws_sdk_sqs::config::Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "dagbench-emulator",
    );
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .retry_config(retries())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn clients_retry_five_times_with_backoff() {
        let sdk = super::for_endpoint("http://127.0.0.1:9", "us-east-1").await;
        let retry = sdk.retry_config().expect("a retry configuration");
        assert_eq!(retry.max_attempts(), 5);
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
    }
}
