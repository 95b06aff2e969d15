//! dagbench's infrastructure as data. [`config`] is the deployment
//! configuration (`dagbench.toml`, environment, flags) and its validation;
//! [`stacks`] synthesizes the CloudFormation template of each stack from it:
//! `dagbench-bootstrap-{env}`, `perf-shared-{env}`, `scenario-1-{env}` and
//! `scenario-2-{env}`, names and tags as in the source document;
//! [`deployment`] is what a deployed scenario runs, from template to cost
//! estimate. Pure: the
//! control plane (`dagbench-deploy`) does the deploying.

pub mod asl;
pub mod config;
pub mod deployment;
pub mod fargate;
pub mod names;
pub mod stacks;
pub mod tags;
pub mod template;

pub use config::{Architecture, Config, ConfigError, Overrides};
pub use deployment::{Deployment, FargateSetup, LambdaSetup, Setup, StepFunctionsSetup};
pub use names::StackKind;
pub use stacks::synthesize;
