//! One scheduler per stack: the lease item in the stack's job table on
//! moto's DynamoDB (conditional writes), with its expiry, renewal, take-over
//! and release.

use std::time::Duration;

use dagbench_aws::config;
use dagbench_aws::lease::{LeaseError, StackLease};
use dagbench_core::ids::RunId;
use dagbench_core::time::Timestamp;
use dagbench_testkit::moto::{create_job_table, moto};

const PERIOD: Duration = Duration::from_secs(60);

fn at(s: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_769_000_000_000 + s * 1000)
}

#[tokio::test]
async fn one_holder_at_a_time_until_its_lease_expires_or_is_taken_over() {
    let Some(m) = moto() else { return };
    let client =
        aws_sdk_dynamodb::Client::new(&config::for_endpoint(&m.endpoint, "us-east-1").await);
    let table = create_job_table(&client).await;
    let run = |id: &str| RunId::new(id).unwrap();
    let take = |id: &'static str, s: i64, take_over: bool| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            StackLease::acquire(
                client,
                &table,
                &RunId::new(id).unwrap(),
                &format!("1{s}@host-{id}"),
                PERIOD,
                at(s),
                take_over,
            )
            .await
        }
    };

    let a = take("run-a", 0, false)
        .await
        .expect("a free stack is taken");
    assert_eq!(a.run_id(), &run("run-a"));
    // A second scheduler is refused, told who holds the stack.
    match take("run-b", 10, false).await {
        Err(LeaseError::Held(h)) => {
            assert_eq!(
                (h.run_id.as_str(), h.holder.as_str()),
                ("run-a", "10@host-run-a")
            );
            assert_eq!((h.since, h.expires_at), (at(0), at(60)));
            let text = LeaseError::Held(h).to_string();
            assert!(
                text.starts_with("the stack is in use by run run-a (10@host-run-a"),
                "{text}"
            );
            assert!(text.contains("--take-over"), "{text}");
        }
        other => panic!("a held stack is refused: {other:?}"),
    }
    // Renewal keeps it: still held past the first expiry.
    a.renew(at(50)).await.expect("the holder renews");
    assert!(matches!(
        take("run-b", 70, false).await,
        Err(LeaseError::Held(_))
    ));
    // A crashed holder stops renewing: after expiry the stack is free.
    let b = take("run-b", 111, false)
        .await
        .expect("an expired lease is taken");
    assert_eq!(
        a.renew(at(112)).await,
        Err(LeaseError::Lost),
        "a lost lease says so"
    );
    a.release()
        .await
        .expect("releasing a lost lease changes nothing");
    assert_eq!(
        b.current().await.unwrap().map(|h| h.run_id),
        Some("run-b".to_owned())
    );
    // --take-over breaks a live lease.
    let c = take("run-c", 115, true).await.expect("take-over");
    assert_eq!(b.renew(at(116)).await, Err(LeaseError::Lost));
    c.release().await.unwrap();
    assert_eq!(c.current().await.unwrap(), None, "released");
    take("run-d", 117, false).await.expect("free after release");
}
