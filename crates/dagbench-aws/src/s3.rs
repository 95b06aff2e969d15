//! S3 through `object_store`'s `AmazonS3`: the results tree of a run in the
//! stack's bucket, with the same `RunStore` as local disk.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use dagbench_store::RunStore;
use object_store::CredentialProvider;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use tokio::sync::Mutex;

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
    /// The AWS SDK's credentials (profiles, SSO, roles: everything the SDK
    /// resolves and object_store alone would not); `None` = object_store's
    /// own environment lookup.
    pub credentials: Option<SharedCredentialsProvider>,
}

/// A `RunStore` on S3, writing each object's `Content-Type`. Credentials
/// come from the SDK's chain (`credentials`), as for every other service.
pub fn run_store(location: &S3Location) -> Result<RunStore, object_store::Error> {
    let s3 = Arc::new(bucket(location)?);
    Ok(RunStore::with_prefix(s3, &location.prefix).with_content_types())
}

/// The S3 endpoint the standard AWS variables name: `AWS_ENDPOINT_URL_S3`,
/// else `AWS_ENDPOINT_URL` (`None`: AWS itself).
pub fn endpoint_from(vars: &std::collections::HashMap<String, String>) -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|name| vars.get(*name).filter(|v| !v.trim().is_empty()).cloned())
}

/// The bucket itself, as an object store (for whole-bucket work such as
/// uploading assets or emptying it before deletion).
pub fn bucket(location: &S3Location) -> Result<AmazonS3, object_store::Error> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(&location.bucket);
    if let Some(region) = &location.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &location.endpoint {
        // MinIO, LocalStack, moto, a VPC endpoint: path-style requests, and
        // plain HTTP when the endpoint says so.
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    match &location.credentials {
        Some(provider) => {
            builder = builder.with_credentials(Arc::new(SdkCredentials {
                provider: provider.clone(),
                cached: Mutex::new(None),
            }));
        }
        // An emulator reached without any credentials chain (tests): its
        // conventional test keys.
        None if location.endpoint.is_some() => {
            builder = builder
                .with_access_key_id("testing")
                .with_secret_access_key("testing");
        }
        None => {}
    }
    builder.build()
}

/// object_store credentials from the SDK's provider chain, cached until
/// five minutes before they expire (the chain may call STS or SSO).
#[derive(Debug)]
struct SdkCredentials {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

#[async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref() {
            let fresh = expiry.is_none_or(|e| e > SystemTime::now() + Duration::from_secs(300));
            if fresh {
                return Ok(credential.clone());
            }
        }
        let c = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            }
        })?;
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().to_owned(),
            secret_key: c.secret_access_key().to_owned(),
            token: c.session_token().map(str::to_owned),
        });
        *cached = Some((credential.clone(), c.expiry()));
        Ok(credential)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::Credentials;
    use aws_credential_types::provider::future;

    use super::*;

    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        expiry: Option<SystemTime>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKID",
                "SECRET",
                Some("TOKEN".into()),
                self.expiry,
                "test",
            )))
        }
    }

    fn adapter(expiry: Option<SystemTime>) -> (SdkCredentials, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let provider = SharedCredentialsProvider::new(Counting {
            calls: calls.clone(),
            expiry,
        });
        (
            SdkCredentials {
                provider,
                cached: Mutex::new(None),
            },
            calls,
        )
    }

    #[tokio::test]
    async fn sdk_credentials_reach_object_store_and_are_cached_while_fresh() {
        let (creds, calls) = adapter(Some(SystemTime::now() + Duration::from_secs(3600)));
        let c = creds.get_credential().await.unwrap();
        assert_eq!(
            (c.key_id.as_str(), c.secret_key.as_str(), c.token.as_deref()),
            ("AKID", "SECRET", Some("TOKEN"))
        );
        creds.get_credential().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Credentials about to expire are fetched again.
        let (creds, calls) = adapter(Some(SystemTime::now() + Duration::from_secs(60)));
        creds.get_credential().await.unwrap();
        creds.get_credential().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
