//! SDK configuration: the standard AWS environment (region, profile,
//! credentials chain, `AWS_ENDPOINT_URL`), or an explicit endpoint with
//! static credentials for an emulator on loopback.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The standard chain, as every AWS tool reads it.
pub async fn from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
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
        .load()
        .await
}
