//! What AWS says a test run cost: Cost Explorer's `GetCostAndUsage`,
//! filtered by the `PerfTestRun` tag, grouped by service.

use std::collections::BTreeMap;

use aws_sdk_costexplorer::config::Region;
use aws_sdk_costexplorer::types::{
    DateInterval, Expression, Granularity, GroupDefinition, GroupDefinitionType, MatchOption,
    TagValues,
};
use dagbench_infra::tags::PERF_TEST_RUN;

use crate::{Aws, DeployError};

/// The metric summed: what the account is charged, before credits.
pub const METRIC: &str = "UnblendedCost";

/// One service's cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCost {
    /// `AWS Lambda`, `Amazon Simple Queue Service`, …
    pub service: String,
    /// The amount.
    pub amount: f64,
    /// Its currency (`USD`).
    pub unit: String,
}

/// The costs of one test run over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct ActualCosts {
    /// The `PerfTestRun` value.
    pub test_run_id: String,
    /// First day (inclusive), `YYYY-MM-DD`.
    pub start: String,
    /// Last day (exclusive).
    pub end: String,
    /// Per service, largest first.
    pub services: Vec<ServiceCost>,
    /// Sum of the services.
    pub total: f64,
    /// Whether some days are still estimated by AWS (not final).
    pub estimated: bool,
    /// `GetCostAndUsage` requests this query made (one per page), each
    /// billed [`REQUEST_USD`].
    pub requests: u64,
}

/// What one Cost Explorer API request costs (USD): asking is not free, and
/// a query can cost more than a small run.
pub const REQUEST_USD: f64 = 0.01;

/// Costs tagged `PerfTestRun = test_run_id` from `start` to `end`
/// (`YYYY-MM-DD`, end exclusive), by service.
///
/// # Errors
/// When Cost Explorer refuses (no permission, dates out of range, …).
pub async fn actual_costs(
    aws: &Aws,
    test_run_id: &str,
    start: &str,
    end: &str,
) -> Result<ActualCosts, DeployError> {
    // Cost Explorer has one endpoint, in us-east-1.
    let conf = aws_sdk_costexplorer::config::Builder::from(&aws.sdk)
        .region(Region::new("us-east-1"))
        .build();
    let ce = aws_sdk_costexplorer::Client::from_conf(conf);
    let period = DateInterval::builder()
        .start(start)
        .end(end)
        .build()
        .map_err(|e| DeployError::Precondition(format!("invalid period: {e}")))?;
    let filter = Expression::builder()
        .tags(
            TagValues::builder()
                .key(PERF_TEST_RUN)
                .values(test_run_id)
                .match_options(MatchOption::Equals)
                .build(),
        )
        .build();
    let mut by_service: BTreeMap<String, (f64, String)> = BTreeMap::new();
    let mut estimated = false;
    let mut token = None;
    let mut requests = 0;
    loop {
        requests += 1;
        let out = ce
            .get_cost_and_usage()
            .time_period(period.clone())
            .granularity(Granularity::Daily)
            .metrics(METRIC)
            .group_by(
                GroupDefinition::builder()
                    .r#type(GroupDefinitionType::Dimension)
                    .key("SERVICE")
                    .build(),
            )
            .filter(filter.clone())
            .set_next_page_token(token)
            .send()
            .await
            .map_err(|e| DeployError::aws("cannot read Cost Explorer (ce:GetCostAndUsage)", &e))?;
        for day in out.results_by_time() {
            estimated |= day.estimated();
            for group in day.groups() {
                let service = group.keys().first().cloned().unwrap_or_else(|| "?".into());
                if let Some(metric) = group.metrics().and_then(|m| m.get(METRIC)) {
                    let amount: f64 = metric.amount().unwrap_or("0").parse().unwrap_or(0.0);
                    let entry = by_service
                        .entry(service)
                        .or_insert((0.0, metric.unit().unwrap_or("USD").to_owned()));
                    entry.0 += amount;
                }
            }
        }
        token = out.next_page_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut services: Vec<ServiceCost> = by_service
        .into_iter()
        .map(|(service, (amount, unit))| ServiceCost {
            service,
            amount,
            unit,
        })
        .collect();
    services.sort_by(|a, b| b.amount.total_cmp(&a.amount));
    Ok(ActualCosts {
        test_run_id: test_run_id.to_owned(),
        start: start.to_owned(),
        end: end.to_owned(),
        total: services.iter().map(|s| s.amount).sum(),
        services,
        estimated,
        requests,
    })
}

/// What to tell a user when Cost Explorer shows nothing for a tag.
#[must_use]
pub fn nothing_found(test_run_id: &str, start: &str, end: &str) -> String {
    format!(
        "Cost Explorer shows no costs tagged {PERF_TEST_RUN}={test_run_id} from {start} to {end}.\n\
         - Costs reach Cost Explorer up to 24 hours after they are incurred: try again tomorrow.\n\
         - Only activated cost allocation tags filter costs: Billing console -> Cost allocation tags -> \
         activate {PERF_TEST_RUN} (once per account; it applies from activation on, within 24 hours).\n\
         - Check the id: `dagbench deploy` tags resources with TEST_RUN_ID (default `default`)."
    )
}
