//! What a deployment ships besides templates: the Lambda zip, stored in the
//! assets bucket under its content hash (an unchanged zip is neither
//! uploaded again nor redeployed), and the worker image, which deploy pins by
//! digest (a pushed `latest` changes the task definition, so ECS rolls it).

use std::path::Path;

use aws_sdk_ecr::error::ProvideErrorMetadata as _;
use aws_sdk_ecr::types::ImageIdentifier;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use sha2::{Digest, Sha256};

use crate::{Aws, DeployError, Log};

/// The key of a Lambda zip with these bytes.
#[must_use]
pub fn lambda_key(zip: &[u8]) -> String {
    let digest = Sha256::digest(zip);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("lambda/bootstrap-{hex}.zip")
}

/// Uploads the zip at `path` to `bucket` unless it is there already;
/// returns its key.
///
/// # Errors
/// [`DeployError::Precondition`] when there is no zip (with how to build
/// one); S3 failures.
pub async fn upload_lambda(
    aws: &Aws,
    bucket: &str,
    path: &Path,
    log: &Log,
) -> Result<String, DeployError> {
    let zip = std::fs::read(path).map_err(|e| {
        DeployError::Precondition(format!(
            "no Lambda package at {} ({e}): build it with `make lambda`, or pass --lambda-zip",
            path.display()
        ))
    })?;
    if !zip.starts_with(b"PK") {
        return Err(DeployError::Precondition(format!(
            "{} is not a zip file: `make lambda` builds the package",
            path.display()
        )));
    }
    let key = lambda_key(&zip);
    let store = aws.bucket(bucket)?;
    let location = ObjectPath::from(key.as_str());
    match store.head(&location).await {
        Ok(_) => {
            log.line(&format!(
                "lambda package: s3://{bucket}/{key} (already uploaded)"
            ));
            return Ok(key);
        }
        Err(object_store::Error::NotFound { .. }) => {}
        Err(source) => {
            return Err(DeployError::Store {
                context: format!("cannot check s3://{bucket}/{key}"),
                source,
            });
        }
    }
    let size = zip.len();
    store
        .put(&location, PutPayload::from(zip))
        .await
        .map_err(|source| DeployError::Store {
            context: format!("cannot upload the Lambda package to s3://{bucket}/{key}"),
            source,
        })?;
    log.line(&format!(
        "lambda package: uploaded {:.1} MB to s3://{bucket}/{key}",
        size as f64 / 1e6
    ));
    Ok(key)
}

/// `repository_uri@sha256:…` for the image tagged `tag` in `repository`,
/// or, without a tag, for the image pushed last (the repository's tags
/// are immutable, so each build is pushed under a tag of its own), with
/// the tag that names it.
///
/// # Errors
/// [`DeployError::Precondition`] with the commands that build and push the
/// image when it is not there.
pub async fn image_uri(
    aws: &Aws,
    repository: &str,
    repository_uri: &str,
    tag: Option<&str>,
) -> Result<(String, String), DeployError> {
    let missing = || {
        let registry = repository_uri.split('/').next().unwrap_or(repository_uri);
        let (what, shown) = match tag {
            Some(t) => (
                format!("the worker image {repository_uri}:{t} is not in ECR"),
                t.to_owned(),
            ),
            None => (
                format!("no worker image is in {repository_uri} yet"),
                "$(git rev-parse --short HEAD)".to_owned(),
            ),
        };
        DeployError::Precondition(format!(
            "{what}; build and push it first (the repository's tags are immutable: one tag per build):\n  \
             aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {registry}\n  \
             docker build -f docker/Dockerfile -t {repository_uri}:{shown} .\n  \
             docker push {repository_uri}:{shown}",
            region = aws.region()
        ))
    };
    let mut request = aws.ecr.describe_images().repository_name(repository);
    if let Some(t) = tag {
        request = request.image_ids(ImageIdentifier::builder().image_tag(t).build());
    }
    let mut pages = request.into_paginator().send();
    let mut newest: Option<aws_sdk_ecr::types::ImageDetail> = None;
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) if e.code() == Some("ImageNotFoundException") => return Err(missing()),
            Err(e) => {
                let what =
                    tag.map_or_else(|| repository.to_owned(), |t| format!("{repository}:{t}"));
                return Err(DeployError::aws(
                    format!("cannot look up {what} in ECR"),
                    &e,
                ));
            }
        };
        for detail in page.image_details() {
            let later = |d: &aws_sdk_ecr::types::ImageDetail| {
                d.image_pushed_at().map(|t| (t.secs(), t.subsec_nanos()))
            };
            if newest.as_ref().is_none_or(|n| later(detail) > later(n)) {
                newest = Some(detail.clone());
            }
        }
    }
    let newest = newest.ok_or_else(missing)?;
    let digest = newest.image_digest().ok_or_else(missing)?;
    let named = tag.map_or_else(
        || {
            newest
                .image_tags()
                .first()
                .cloned()
                .unwrap_or_else(|| "untagged".into())
        },
        str::to_owned,
    );
    Ok((format!("{repository_uri}@{digest}"), named))
}

/// Deletes every object in `bucket` (CloudFormation cannot delete a bucket
/// that has any); returns how many there were.
///
/// # Errors
/// S3 failures.
pub async fn empty_bucket(aws: &Aws, bucket: &str, log: &Log) -> Result<usize, DeployError> {
    use futures::{StreamExt as _, TryStreamExt as _};

    let store = aws.bucket(bucket)?;
    let locations = store.list(None).map_ok(|meta| meta.location).boxed();
    let deleted: Vec<ObjectPath> =
        store
            .delete_stream(locations)
            .try_collect()
            .await
            .map_err(|source| DeployError::Store {
                context: format!("cannot empty bucket {bucket}"),
                source,
            })?;
    if !deleted.is_empty() {
        log.line(&format!("{bucket}: deleted {} objects", deleted.len()));
    }
    Ok(deleted.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zip_is_keyed_by_its_content() {
        let a = lambda_key(b"PK one");
        assert_eq!(a, lambda_key(b"PK one"));
        assert_ne!(a, lambda_key(b"PK two"));
        // sha256("PK one") in hex: 64 characters between the name and `.zip`.
        let hex = a
            .strip_prefix("lambda/bootstrap-")
            .and_then(|s| s.strip_suffix(".zip"))
            .unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
