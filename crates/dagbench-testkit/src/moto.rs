//! The tests' own AWS emulator: a moto server (PyPI `moto[server]`, pinned
//! in `requirements-test.txt` and installed into `.venv` by `make test`) on
//! 127.0.0.1 and a free port, started once per test process and stopped
//! when that process ends (a watchdog shell follows the test process).
//! A fake only where no real AWS can be reached: this machine has no
//! network but the package registries.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    pub endpoint: String,
}

/// Where `moto_server` is: `DAGBENCH_MOTO_SERVER`, else the project's `.venv`.
pub fn moto_server_path() -> PathBuf {
    std::env::var_os("DAGBENCH_MOTO_SERVER").map_or_else(
        || crate::repo_root().join(".venv/bin/moto_server"),
        PathBuf::from,
    )
}

/// The shared server, started on first use. `None` (with a note) when moto
/// is not installed outside CI; under CI a missing moto is a failure.
pub fn moto() -> Option<&'static Moto> {
    static MOTO: OnceLock<Option<Moto>> = OnceLock::new();
    MOTO.get_or_init(|| {
        let path = moto_server_path();
        if !path.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing: `make venv` installs moto",
                path.display()
            );
            eprintln!(
                "skipped: {} is missing (`make venv` installs moto)",
                path.display()
            );
            return None;
        }
        Some(start(&path))
    })
    .as_ref()
}

fn start(path: &std::path::Path) -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on loopback")
        .port();
    let script = format!(
        "{} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {} 2>/dev/null; do sleep 0.5; done; kill $m",
        shell_quote(&path.display().to_string()),
        std::process::id()
    );
    // Detached on purpose: the watchdog ends with this process.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh starts moto_server");
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !ready(port) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not answer on {endpoint} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { endpoint }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Whether `GET /moto-api/` answers 200.
fn ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// A name unique within this test process (moto's state is shared).
pub fn unique(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// The queues, bucket and table of one scenario stack on the emulator,
/// named uniquely: what the CloudFormation stack would create.
#[derive(Debug, Clone)]
pub struct Stack {
    pub endpoint: String,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub incoming: String,
    pub outgoing: String,
    pub dlq: String,
    pub bucket: String,
    pub table: String,
}

impl Stack {
    /// Creates the resources on `moto`: the incoming queue redrives to the
    /// DLQ after 3 receives; all queues have `visibility_s`.
    pub async fn create(moto: &Moto, visibility_s: u32) -> Stack {
        Stack::create_with_receives(moto, visibility_s, 3).await
    }

    /// [`Stack::create`] whose incoming queue allows `receives` receives
    /// before the DLQ.
    pub async fn create_with_receives(moto: &Moto, visibility_s: u32, receives: u32) -> Stack {
        let sdk = dagbench_aws::config::for_endpoint(&moto.endpoint, "us-east-1").await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let dlq = create_queue(&sqs, &unique("dlq"), visibility_s, None).await;
        let incoming = create_queue(
            &sqs,
            &unique("incoming"),
            visibility_s,
            Some((&dlq, receives)),
        )
        .await;
        let outgoing = create_queue(&sqs, &unique("outgoing"), visibility_s, None).await;
        let bucket = unique("data");
        create_bucket(&moto.endpoint, &bucket);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = create_job_table(&dynamodb).await;
        Stack {
            endpoint: moto.endpoint.clone(),
            sqs,
            dynamodb,
            incoming,
            outgoing,
            dlq,
            bucket,
            table,
        }
    }

    /// The environment variables a processor process needs for this stack
    /// (standard AWS ones for the emulator, and the processor's own).
    pub fn process_env(&self, test_run_id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("INCOMING_QUEUE_URL", self.incoming.clone()),
            ("OUTGOING_QUEUE_URL", self.outgoing.clone()),
            ("DLQ_URL", self.dlq.clone()),
            ("BUCKET_NAME", self.bucket.clone()),
            ("TABLE_NAME", self.table.clone()),
            ("TEST_RUN_ID", test_run_id.to_owned()),
        ]
    }

    /// The stack's bucket as the processors see it.
    pub fn store(&self) -> dagbench_store::RunStore {
        dagbench_aws::s3::run_store(&dagbench_aws::s3::S3Location {
            bucket: self.bucket.clone(),
            prefix: String::new(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            credentials: None,
        })
        .expect("a store on the emulator's bucket")
    }

    /// The scheduler's side of the stack: its three queues.
    pub fn queues(&self) -> dagbench_runtime::driver::Queues {
        dagbench_aws::wiring::scheduler_queues(&self.sqs, &self.processor_env("testkit"))
    }

    /// The run holding the stack's scheduler lease, if any.
    pub async fn lease_holder(&self) -> Option<String> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(dagbench_aws::lease::LEASE_PK.into()),
            )
            .key(
                "sk",
                AttributeValue::S(dagbench_aws::lease::LEASE_SK.into()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("get the lease item");
        out.item()
            .and_then(|i| i.get("run_id"))
            .and_then(|v| v.as_s().ok())
            .cloned()
    }

    /// Every item of the stack's job table (one page is enough for a test).
    pub async fn ledger_items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let out = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .send()
            .await
            .expect("scan the job table");
        assert!(out.last_evaluated_key().is_none(), "one page of items");
        out.items().to_vec()
    }

    /// The processor environment pointing at this stack.
    pub fn processor_env(&self, test_run_id: &str) -> dagbench_aws::env::ProcessorEnv {
        dagbench_aws::env::ProcessorEnv {
            incoming_queue_url: self.incoming.clone(),
            outgoing_queue_url: self.outgoing.clone(),
            dlq_url: self.dlq.clone(),
            bucket_name: self.bucket.clone(),
            table_name: self.table.clone(),
            test_run_id: test_run_id.to_owned(),
            batch_size: 10,
            max_receive_count: 3,
            endpoint_url: Some(self.endpoint.clone()),
            results_prefix: String::new(),
        }
    }
}

/// Creates queue `name` with `visibility_s`; with `redrive`, its messages
/// go to that dead-letter queue (by URL) after that many receives. Returns
/// the queue's URL.
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility_s: u32,
    redrive: Option<(&str, u32)>,
) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    let mut create = sqs.create_queue().queue_name(name).attributes(
        QueueAttributeName::VisibilityTimeout,
        visibility_s.to_string(),
    );
    if let Some((dlq_url, max)) = redrive {
        let arn = sqs
            .get_queue_attributes()
            .queue_url(dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .expect("queue arn");
        create = create.attributes(
            QueueAttributeName::RedrivePolicy,
            format!("{{\"deadLetterTargetArn\":\"{arn}\",\"maxReceiveCount\":\"{max}\"}}"),
        );
    }
    create
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("queue url")
        .to_owned()
}

/// A job table as the stack defines it (`pk`/`sk` strings, on demand),
/// uniquely named; returns its name.
pub async fn create_job_table(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let table = unique("jobs");
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let key = |n: &str, k| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
            .expect("key")
    };
    dynamodb
        .create_table()
        .table_name(&table)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    table
}

/// A raw HTTP/1.0 request to moto; returns the status code.
fn request(endpoint: &str, head: &str, body: &str) -> u16 {
    let port: u16 = endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("endpoint port");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("moto answers");
    let request = format!(
        "{head} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut status = [0u8; 12];
    stream.read_exact(&mut status).expect("response");
    std::str::from_utf8(&status[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl Stack {
    /// Scenario 3 on the emulator: turns moto's States Language interpreter
    /// on (`POST /moto-api/config`) and creates a state machine from the
    /// definition the stack deploys for `task` (moto's interpreter cannot
    /// see one made through CloudFormation). Returns its ARN.
    pub async fn state_machine(&self, task: dagbench_infra::asl::TaskIntegration) -> String {
        let status = request(
            &self.endpoint,
            "POST /moto-api/config",
            r#"{"stepfunctions": {"execute_state_machine": true}}"#,
        );
        assert_eq!(status, 201, "moto's interpreter turned on");
        let mut config = dagbench_infra::Config::default();
        config.step_functions.task = task;
        let options = dagbench_infra::stacks::scenario3::asl_options(
            &config,
            "arn:aws:lambda:us-east-1:123456789012:function:processor",
            &self.incoming,
        );
        let definition = dagbench_infra::asl::definition(&options);
        let sdk = dagbench_aws::config::for_endpoint(&self.endpoint, "us-east-1").await;
        aws_sdk_sfn::Client::new(&sdk)
            .create_state_machine()
            .name(unique("dag"))
            .definition(definition.to_string())
            .role_arn("arn:aws:iam::123456789012:role/orchestrator")
            .send()
            .await
            .expect("moto accepts the definition")
            .state_machine_arn()
            .to_owned()
    }
}

/// `PUT /<bucket>` (path style): moto creates the bucket.
fn create_bucket(endpoint: &str, bucket: &str) {
    let port: u16 = endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("endpoint port");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("moto answers");
    let request = format!("PUT /{bucket} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("response");
    assert_eq!(&head[9..12], b"200", "bucket {bucket} created");
}
