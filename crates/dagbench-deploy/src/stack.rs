//! One stack: deploy a template (through a change set, or directly where
//! the endpoint cannot run change sets), stream its events while it
//! changes, read its outputs, delete it.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, StackEvent, Tag,
};

use crate::status::{self, Phase};
use crate::{Aws, DeployError, Log};

/// How a template reaches CloudFormation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeployMethod {
    /// A change set: created, reviewed (printed), executed. What AWS gets.
    #[default]
    ChangeSet,
    /// `CreateStack`/`UpdateStack`. For emulators: moto cannot execute a
    /// change set on an existing stack (DESIGN.md's known facts).
    Direct,
}

/// What a deploy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The stack did not exist and now does.
    Created,
    /// The stack changed.
    Updated,
    /// The template, parameters and tags were those deployed: nothing to do.
    Unchanged,
}

/// A deployed stack, as `DescribeStacks` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// Its name.
    pub name: String,
    /// Its id (ARN): still valid after deletion.
    pub id: String,
    /// `CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, …
    pub status: String,
    /// Its outputs by key.
    pub outputs: BTreeMap<String, String>,
    /// Its tags by key.
    pub tags: BTreeMap<String, String>,
}

/// A template to deploy as stack `name`.
#[derive(Debug, Clone)]
pub struct StackRequest {
    /// The stack.
    pub name: String,
    /// The template (compact JSON).
    pub body: String,
    /// Resources in the template (for progress).
    pub resources: usize,
    /// Template parameters.
    pub parameters: Vec<(String, String)>,
    /// The stack's tags (CloudFormation also propagates them).
    pub tags: Vec<(String, String)>,
}

/// The settings every template request carries: create, update, change set.
macro_rules! with_template {
    ($builder:expr, $request:expr, $parameters:expr, $tags:expr) => {
        $builder
            .stack_name(&$request.name)
            .template_body(&$request.body)
            .set_parameters(Some($parameters))
            .set_tags(Some($tags))
            .capabilities(Capability::CapabilityIam)
    };
}

/// The stack `name`, or `None` when there is none.
///
/// # Errors
/// Any failure but "does not exist".
pub async fn describe(aws: &Aws, name: &str) -> Result<Option<StackInfo>, DeployError> {
    let out = match aws.cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out,
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => return Ok(None),
        Err(e) => {
            return Err(DeployError::aws(
                format!("cannot describe stack {name}"),
                &e,
            ));
        }
    };
    let Some(stack) = out.stacks().first() else {
        return Ok(None);
    };
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    if status == "DELETE_COMPLETE" {
        return Ok(None);
    }
    Ok(Some(StackInfo {
        name: name.to_owned(),
        id: stack.stack_id().unwrap_or(name).to_owned(),
        status,
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect(),
        tags: stack
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
    }))
}

/// Deploys `request`: creates the stack or updates it, streaming events
/// until it settles. A stack whose creation failed earlier is deleted and
/// created again; "nothing to change" is success.
///
/// # Errors
/// The stack is busy, CloudFormation rejects the template, or the stack
/// ends rolled back (with the failed resources' reasons).
pub async fn deploy(
    aws: &Aws,
    request: &StackRequest,
    method: DeployMethod,
    log: &Log,
    poll: Duration,
) -> Result<Outcome, DeployError> {
    let name = &request.name;
    let mut existing = describe(aws, name).await?;
    // A stack whose first change set never ran (REVIEW_IN_PROGRESS) has no
    // resources: create it again (a CREATE change set accepts it).
    if existing
        .as_ref()
        .is_some_and(|s| s.status == "REVIEW_IN_PROGRESS")
    {
        if method == DeployMethod::Direct {
            delete(aws, name, log, poll).await?;
        }
        existing = None;
    }
    if let Some(stack) = &existing {
        if status::phase(&stack.status) == Phase::InProgress {
            return Err(DeployError::Precondition(format!(
                "stack {name} is busy ({}); wait for it to settle and try again",
                stack.status
            )));
        }
        if status::needs_recreate(&stack.status) {
            log.line(&format!(
                "{name}: its creation failed earlier ({}); deleting it before creating it again",
                stack.status
            ));
            delete(aws, name, log, poll).await?;
            existing = None;
        }
    }
    let seen = match &existing {
        Some(stack) => event_ids(aws, &stack.id).await?,
        None => HashSet::new(),
    };
    let creating = existing.is_none();
    let parameters: Vec<Parameter> = request
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    let tags: Vec<Tag> = request
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    log.line(&format!(
        "{name}: {} ({} resources)",
        if creating { "creating" } else { "updating" },
        request.resources
    ));
    match method {
        DeployMethod::Direct if creating => {
            with_template!(aws.cfn.create_stack(), request, parameters, tags)
                .send()
                .await
                .map_err(|e| DeployError::aws(format!("cannot create stack {name}"), &e))?;
        }
        DeployMethod::Direct => {
            match with_template!(aws.cfn.update_stack(), request, parameters, tags)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.message().is_some_and(status::is_no_change) => {
                    log.line(&format!("{name}: no changes"));
                    return Ok(Outcome::Unchanged);
                }
                Err(e) => {
                    return Err(DeployError::aws(format!("cannot update stack {name}"), &e));
                }
            }
        }
        DeployMethod::ChangeSet => {
            if !change_set(aws, request, creating, parameters, tags, log, poll).await? {
                return Ok(Outcome::Unchanged);
            }
        }
    }
    let final_status = watch(aws, name, request.resources, seen, log, poll).await?;
    log.line(&format!("{name}: {final_status}"));
    Ok(if creating {
        Outcome::Created
    } else {
        Outcome::Updated
    })
}

/// Creates a change set, prints what it would change and executes it;
/// `false` when there is nothing to change.
async fn change_set(
    aws: &Aws,
    request: &StackRequest,
    creating: bool,
    parameters: Vec<Parameter>,
    tags: Vec<Tag>,
    log: &Log,
    poll: Duration,
) -> Result<bool, DeployError> {
    let name = &request.name;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let set_name = format!("dagbench-{millis}");
    with_template!(aws.cfn.create_change_set(), request, parameters, tags)
        .change_set_name(&set_name)
        .change_set_type(if creating {
            ChangeSetType::Create
        } else {
            ChangeSetType::Update
        })
        .send()
        .await
        .map_err(|e| DeployError::aws(format!("cannot create a change set for {name}"), &e))?;
    loop {
        let set = aws
            .cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(&set_name)
            .send()
            .await
            .map_err(|e| DeployError::aws(format!("cannot read change set {set_name}"), &e))?;
        match set.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                for change in set.changes() {
                    if let Some(rc) = change.resource_change() {
                        log.line(&format!(
                            "  {:<7} {:<40} {}{}",
                            rc.action().map(|a| a.as_str()).unwrap_or("?"),
                            rc.logical_resource_id().unwrap_or("?"),
                            rc.resource_type().unwrap_or("?"),
                            match rc.replacement().map(|r| r.as_str()) {
                                Some("True") => " (replacement)",
                                Some("Conditional") => " (may be replaced)",
                                _ => "",
                            }
                        ));
                    }
                }
                break;
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = set.status_reason().unwrap_or("no reason given").to_owned();
                let _ = aws
                    .cfn
                    .delete_change_set()
                    .stack_name(name)
                    .change_set_name(&set_name)
                    .send()
                    .await;
                if status::is_no_change(&reason) {
                    log.line(&format!("{name}: no changes"));
                    return Ok(false);
                }
                if creating {
                    // Leave no empty REVIEW_IN_PROGRESS stack behind.
                    let _ = aws.cfn.delete_stack().stack_name(name).send().await;
                }
                return Err(DeployError::Precondition(format!(
                    "CloudFormation refused the change set for {name}: {reason}"
                )));
            }
            _ => tokio::time::sleep(poll).await,
        }
    }
    aws.cfn
        .execute_change_set()
        .stack_name(name)
        .change_set_name(&set_name)
        .send()
        .await
        .map_err(|e| DeployError::aws(format!("cannot execute change set {set_name}"), &e))?;
    Ok(true)
}

/// Deletes stack `name`, streaming events until it is gone; `false` when
/// there was no such stack.
///
/// # Errors
/// When the deletion fails (with the failed resources' reasons).
pub async fn delete(aws: &Aws, name: &str, log: &Log, poll: Duration) -> Result<bool, DeployError> {
    let Some(stack) = describe(aws, name).await? else {
        return Ok(false);
    };
    let seen = event_ids(aws, &stack.id).await?;
    log.line(&format!("{name}: deleting"));
    aws.cfn
        .delete_stack()
        .stack_name(&stack.id)
        .send()
        .await
        .map_err(|e| DeployError::aws(format!("cannot delete stack {name}"), &e))?;
    let final_status = watch(aws, &stack.id, 0, seen, log, poll).await?;
    log.line(&format!("{name}: {final_status}"));
    Ok(true)
}

/// The ids of the events stack `id` already has.
async fn event_ids(aws: &Aws, id: &str) -> Result<HashSet<String>, DeployError> {
    Ok(events(aws, id, &HashSet::new())
        .await?
        .into_iter()
        .filter_map(|e| e.event_id().map(str::to_owned))
        .collect())
}

/// Events of stack `id` not in `seen`, oldest first.
async fn events(
    aws: &Aws,
    id: &str,
    seen: &HashSet<String>,
) -> Result<Vec<StackEvent>, DeployError> {
    let mut fresh = Vec::new();
    let mut token = None;
    'pages: loop {
        let page = aws
            .cfn
            .describe_stack_events()
            .stack_name(id)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| DeployError::aws(format!("cannot read the events of {id}"), &e))?;
        // Newest first: stop at the first event already seen.
        for event in page.stack_events() {
            if event.event_id().is_some_and(|e| seen.contains(e)) {
                break 'pages;
            }
            fresh.push(event.clone());
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    fresh.reverse();
    Ok(fresh)
}

/// Prints stack `id`'s new events until its status settles; returns the
/// final status, or the failure with every failed resource's reason.
async fn watch(
    aws: &Aws,
    id: &str,
    resources: usize,
    mut seen: HashSet<String>,
    log: &Log,
    poll: Duration,
) -> Result<String, DeployError> {
    let mut done: HashSet<String> = HashSet::new();
    let mut reasons = Vec::new();
    loop {
        for event in events(aws, id, &seen).await? {
            if let Some(e) = event.event_id() {
                seen.insert(e.to_owned());
            }
            let logical = event.logical_resource_id().unwrap_or("?");
            let status = event.resource_status().map_or("?", |s| s.as_str());
            let is_stack = event.resource_type() == Some("AWS::CloudFormation::Stack");
            if !is_stack && status.ends_with("_COMPLETE") {
                done.insert(logical.to_owned());
            }
            let reason = event.resource_status_reason().unwrap_or("");
            if status.ends_with("_FAILED") && !reason.is_empty() {
                reasons.push(format!("{logical}: {reason}"));
            }
            let progress = if resources > 0 {
                format!("[{:>2}/{resources}] ", done.len().min(resources))
            } else {
                String::new()
            };
            log.line(&format!(
                "  {progress}{status:<28} {logical:<36} {}{}",
                event.resource_type().unwrap_or(""),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!("  {reason}")
                }
            ));
        }
        let out = aws
            .cfn
            .describe_stacks()
            .stack_name(id)
            .send()
            .await
            .map_err(|e| DeployError::aws(format!("cannot describe stack {id}"), &e))?;
        let status = out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        match status::phase(&status) {
            Phase::InProgress => tokio::time::sleep(poll).await,
            Phase::Succeeded => return Ok(status),
            Phase::Failed => {
                return Err(DeployError::StackFailed {
                    stack: id.to_owned(),
                    status,
                    reasons,
                });
            }
        }
    }
}
