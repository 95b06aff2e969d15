//! S3 through `object_store`'s `AmazonS3`: the results tree of a run in the
//! stack's bucket, with the same `RunStore` as local disk.

use std::sync::Arc;

use dagbench_store::RunStore;
use object_store::aws::AmazonS3Builder;

/// Where a bucket is.
#[derive(Debug, Clone, Default)]
pub struct S3Location {
    pub bucket: String,
    /// Results live under `<prefix>/…` in the bucket (empty = the root).
    pub prefix: String,
    /// An emulator's endpoint (path-style requests, plain HTTP allowed);
    /// `None` = AWS itself, from the environment.
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

/// A `RunStore` on S3. Credentials and region come from the standard AWS
/// environment; with an endpoint, static test credentials are used.
pub fn run_store(location: &S3Location) -> Result<RunStore, object_store::Error> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(&location.bucket);
    if let Some(region) = &location.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &location.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(true)
            .with_access_key_id("testing")
            .with_secret_access_key("testing");
    }
    let s3 = Arc::new(builder.build()?);
    Ok(RunStore::with_prefix(s3, &location.prefix))
}
