//! Throttling and 5xx answers are retried with backoff; client errors are
//! not. moto never throttles, so a small proxy on loopback stands between
//! the SDK and moto: it answers the first requests itself with a 503 and a
//! `ThrottlingException`, then forwards to moto, which does the real work.
//! (A fake only for the failure; the success is moto's.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dagbench_aws::SqsQueue;
use dagbench_aws::config::for_endpoint;
use dagbench_runtime::ports::JobQueue;
use dagbench_testkit::moto::{moto, unique};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy answers before it starts forwarding.
#[derive(Clone, Copy)]
enum Failure {
    Unavailable,
    Throttled,
    BadRequest,
}

impl Failure {
    fn response(self) -> String {
        let (status, body) = match self {
            Failure::Unavailable => (
                "503 Service Unavailable",
                r#"{"__type":"ServiceUnavailable","message":"try again"}"#,
            ),
            Failure::Throttled => (
                "400 Bad Request",
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            ),
            Failure::BadRequest => (
                "400 Bad Request",
                r#"{"__type":"InvalidParameterValue","message":"no"}"#,
            ),
        };
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

/// Reads one HTTP request (headers and `content-length` body).
async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + length {
                return buf;
            }
        }
    }
}

/// Answers the first requests with `failures`, then forwards to `upstream`
/// (moto answers with `connection: close`, so a response ends at EOF).
async fn proxy(upstream: String, failures: Vec<Failure>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            let failure = failures.get(n).copied();
            tokio::spawn(async move {
                let request = read_request(&mut client).await;
                let response = match failure {
                    Some(f) => f.response().into_bytes(),
                    None => {
                        let mut moto = TcpStream::connect(upstream).await.unwrap();
                        moto.write_all(&request).await.unwrap();
                        let mut response = Vec::new();
                        moto.read_to_end(&mut response).await.unwrap();
                        response
                    }
                };
                client.write_all(&response).await.unwrap();
                let _ = client.shutdown().await;
            });
        }
    });
    (endpoint, seen)
}

async fn queue_on_moto(endpoint: &str) -> String {
    let sdk = for_endpoint(endpoint, "us-east-1").await;
    aws_sdk_sqs::Client::new(&sdk)
        .create_queue()
        .queue_name(unique("throttle"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn throttling_and_unavailable_answers_are_retried_until_moto_answers() {
    let Some(m) = moto() else { return };
    let url = queue_on_moto(&m.endpoint).await;
    let upstream = m.endpoint.trim_start_matches("http://").to_owned();
    let (endpoint, seen) = proxy(upstream, vec![Failure::Unavailable, Failure::Throttled]).await;
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&for_endpoint(&endpoint, "us-east-1").await),
        &url,
    );
    let results = queue
        .send_batch(&["{\"job_id\":\"a\"}".to_owned()])
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 3, "two failures, then moto");

    // The message really is in moto's queue.
    let direct = SqsQueue::new(
        aws_sdk_sqs::Client::new(&for_endpoint(&m.endpoint, "us-east-1").await),
        &url,
    );
    let got = direct.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "{\"job_id\":\"a\"}");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let Some(m) = moto() else { return };
    let url = queue_on_moto(&m.endpoint).await;
    let upstream = m.endpoint.trim_start_matches("http://").to_owned();
    let (endpoint, seen) = proxy(upstream, vec![Failure::BadRequest; 5]).await;
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&for_endpoint(&endpoint, "us-east-1").await),
        &url,
    );
    let err = queue
        .send_batch(&["{\"job_id\":\"a\"}".to_owned()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("InvalidParameterValue"), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}
