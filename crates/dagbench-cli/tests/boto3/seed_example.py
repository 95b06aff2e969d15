"""The seed document's example job, sent and checked with boto3 only.

A `dagbench worker` polls the stack named by the environment (the queues,
bucket and table of a Scenario 2 stack on the moto server). This script is
what a user of the original system would do: put an input object, send the
seed's message, read the completion, the output object and the ledger item.
It exits non-zero, saying what differed, if anything is not as the seed
describes.
"""

import json
import os
import sys
import time

import boto3

sqs = boto3.client("sqs")
s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")
INCOMING = os.environ["INCOMING_QUEUE_URL"]
OUTGOING = os.environ["OUTGOING_QUEUE_URL"]
BUCKET = os.environ["BUCKET_NAME"]
TABLE = os.environ["TABLE_NAME"]
TEST_RUN_ID = os.environ["TEST_RUN_ID"]


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")


def completion_of(job_id, timeout=60):
    """The next completion naming `job_id` on the outgoing queue."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = sqs.receive_message(
            QueueUrl=OUTGOING, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in got.get("Messages", []):
            sqs.delete_message(QueueUrl=OUTGOING, ReceiptHandle=message["ReceiptHandle"])
            body = json.loads(message["Body"])
            if body["job_id"] == job_id:
                return body
    sys.exit(f"FAILED: no completion of {job_id} within {timeout} s")


# The seed's example: any object at input_key, a 10 KiB output.
s3.put_object(Bucket=BUCKET, Key="jobs/job-123.json", Body=b'{"hello": "world"}')
example = {
    "job_id": "unique-id",
    "work_duration_ms": 100,
    "data_size_kb": 10,
    "input_key": "jobs/job-123.json",
}
sqs.send_message(QueueUrl=INCOMING, MessageBody=json.dumps(example))
done = completion_of("unique-id")
check(done["status"] == "completed", f"the seed's example job completed: {done}")
check(done["test_run_id"] == TEST_RUN_ID, f"the completion names the test run: {done}")
key = done["output_key"]
check(
    key.startswith("output/") and key.endswith("/unique-id.json"),
    f"output/YYYY/MM/DD/HH/<job_id>.json: {key}",
)
head = s3.head_object(Bucket=BUCKET, Key=key)
check(head["ContentLength"] == 10 * 1024, f"a 10 KiB output: {head['ContentLength']}")
check(head["ContentType"] == "application/json", f"stored as JSON: {head['ContentType']}")
output = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
check(output["job_id"] == "unique-id", f"the output names its job: {output['job_id']}")

# The job's record in the ledger: complete, and tagged with its test run.
items = dynamodb.scan(TableName=TABLE)["Items"]
rows = [i for i in items if i["sk"]["S"] == "unique-id"]
check(len(rows) == 1, f"one ledger item for the job: {rows}")
row = rows[0]
check(row["status"]["S"] == "completed", f"recorded as completed: {row}")
check(row["attempts"]["N"] == "1", f"ran once: {row}")
check(row["test_run_id"]["S"] == TEST_RUN_ID, f"the item carries test_run_id: {row}")
check(row["output_key"]["S"] == key, f"the item names the output: {row}")
for field in ("started_at_ms", "completed_at_ms", "processing_time_ms", "worker"):
    check(field in row, f"the item has {field}: {row}")

# A missing input fails, naming the key.
sqs.send_message(
    QueueUrl=INCOMING,
    MessageBody=json.dumps({"job_id": "no-input", "input_key": "jobs/nowhere.json"}),
)
missing = completion_of("no-input")
check(missing["status"] == "failed", f"a missing input fails: {missing}")
check("jobs/nowhere.json" in missing["error"], f"the error names the key: {missing}")

# The same job id again, asking for more: the recorded outcome is re-sent
# and the output object is not rewritten.
etag = head["ETag"]
again = dict(example, data_size_kb=20, work_duration_ms=0)
sqs.send_message(QueueUrl=INCOMING, MessageBody=json.dumps(again))
resent = completion_of("unique-id")
check(resent["status"] == "completed", f"the recorded outcome is re-sent: {resent}")
check(resent["output_key"] == key, f"the same output: {resent['output_key']} != {key}")
check(resent["completed_at"] == done["completed_at"], f"the recorded time: {resent}")
head = s3.head_object(Bucket=BUCKET, Key=key)
check(head["ETag"] == etag, "the output object is untouched")
check(head["ContentLength"] == 10 * 1024, "the output keeps its size")
rows = [i for i in dynamodb.scan(TableName=TABLE)["Items"] if i["sk"]["S"] == "unique-id"]
check(rows[0]["attempts"]["N"] == "1", f"not run again: {rows}")
print("ok: the seed's example job, a missing input and a re-sent job id")
