//! `dagbench-bootstrap-{env}`: where deployments put their assets — a
//! bucket for Lambda zips (keyed by content hash, so an unchanged zip is
//! neither uploaded nor redeployed) and the ECR repository of the worker
//! image.

use serde_json::json;

use super::{data_plane, keys};
use crate::config::Config;
use crate::names::{self, StackKind};
use crate::tags::Tags;
use crate::template::{Template, get_att, r#ref};

/// Images the repository keeps; older ones expire.
const KEEP_IMAGES: u32 = 20;

pub(super) fn template(config: &Config) -> Template {
    let env = &config.env;
    let tags = Tags::new(config, StackKind::Bootstrap);
    let mut t = Template::new(format!(
        "dagbench bootstrap ({env}): the assets bucket and the worker image repository"
    ));
    data_plane::add_bucket(
        &mut t,
        "AssetsBucket",
        &format!("dagbench-assets-{env}-${{AWS::AccountId}}-${{AWS::Region}}"),
        None,
        &tags,
    );
    let lifecycle = json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the last {KEEP_IMAGES} images"),
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEEP_IMAGES},
            "action": {"type": "expire"},
        }],
    });
    t.resource(
        "WorkerRepository",
        "AWS::ECR::Repository",
        json!({
            "RepositoryName": names::repository(env),
            // A tag names one image for good: what a run's deployment
            // record says ran is what ran.
            "ImageTagMutability": "IMMUTABLE",
            "ImageScanningConfiguration": {"ScanOnPush": true},
            "EncryptionConfiguration": {"EncryptionType": "AES256"},
            "EmptyOnDelete": true,
            "LifecyclePolicy": {"LifecyclePolicyText": lifecycle.to_string()},
            "Tags": tags.list(),
        }),
    );
    t.output(
        keys::ASSETS_BUCKET,
        "Bucket of deployment assets (Lambda zips)",
        r#ref("AssetsBucket"),
        None,
    );
    t.output(
        keys::REPOSITORY_NAME,
        "Repository of the worker image",
        r#ref("WorkerRepository"),
        None,
    );
    t.output(
        keys::REPOSITORY_URI,
        "URI to push the worker image to",
        get_att("WorkerRepository", "RepositoryUri"),
        None,
    );
    t
}
