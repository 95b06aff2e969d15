//! `MemoryQueue`: a queue in memory with real SQS semantics — at-least-once
//! delivery, a visibility timeout per delivery, receive counts, redrive to a
//! dead-letter queue after `max_receive_count` receives, long polling that
//! sleeps until a message arrives or a delivery expires (no busy loop).
//! Time is tokio's, so tests run it under paused time.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use dagbench_runtime::ports::{
    Clock, JobQueue, MAX_BATCH, QueueDepth, QueueError, ReceivedMessage, SystemClock, check_batch,
    check_body,
};
use tokio::sync::Notify;
use tokio::time::Instant;

pub use dagbench_runtime::ports::MAX_BODY_BYTES;

#[derive(Debug)]
struct Message {
    body: String,
    receive_count: u32,
    /// The receipt of the current delivery, while in flight.
    receipt: Option<String>,
    invisible_until: Option<Instant>,
    sent_at: dagbench_core::time::Timestamp,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    messages: HashMap<u64, Message>,
    visible: VecDeque<u64>,
    /// In-flight deliveries by expiry.
    in_flight: BTreeSet<(Instant, u64)>,
}

#[derive(Debug)]
pub struct MemoryQueue {
    name: String,
    visibility_timeout: Duration,
    redrive: Option<(Arc<MemoryQueue>, u32)>,
    state: Mutex<State>,
    arrived: Notify,
    clock: Arc<dyn Clock>,
}

impl MemoryQueue {
    pub fn new(name: impl Into<String>, visibility_timeout: Duration) -> Self {
        Self {
            name: name.into(),
            visibility_timeout,
            redrive: None,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Moves a message to `dlq` when it is received more than
    /// `max_receive_count` times without being deleted.
    pub fn with_dead_letter_queue(mut self, dlq: Arc<MemoryQueue>, max_receive_count: u32) -> Self {
        self.redrive = Some((dlq, max_receive_count.max(1)));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn push(&self, state: &mut State, body: String) {
        let id = state.next_id;
        state.next_id += 1;
        state.messages.insert(
            id,
            Message {
                body,
                receive_count: 0,
                receipt: None,
                invisible_until: None,
                sent_at: self.clock.now(),
            },
        );
        state.visible.push_back(id);
    }

    /// Deliveries whose visibility timeout passed become visible again.
    fn expire(state: &mut State, now: Instant) {
        while let Some(&(at, id)) = state.in_flight.first() {
            if at > now {
                break;
            }
            state.in_flight.pop_first();
            if let Some(m) = state.messages.get_mut(&id) {
                m.receipt = None;
                m.invisible_until = None;
                state.visible.push_back(id);
            }
        }
    }

    /// Takes up to `max` visible messages; returns them and the bodies to
    /// redrive to the DLQ.
    fn take(
        &self,
        state: &mut State,
        max: usize,
        now: Instant,
    ) -> (Vec<ReceivedMessage>, Vec<String>) {
        let mut out = Vec::new();
        let mut dead = Vec::new();
        while out.len() < max {
            let Some(id) = state.visible.pop_front() else {
                break;
            };
            let Some(m) = state.messages.get_mut(&id) else {
                continue;
            };
            if let Some((_, max_receives)) = &self.redrive
                && m.receive_count >= *max_receives
            {
                let m = state.messages.remove(&id).expect("present");
                dead.push(m.body);
                continue;
            }
            m.receive_count += 1;
            let receipt = format!("{}:{id}:{}", self.name, m.receive_count);
            let until = now + self.visibility_timeout;
            m.receipt = Some(receipt.clone());
            m.invisible_until = Some(until);
            state.in_flight.insert((until, id));
            out.push(ReceivedMessage {
                message_id: format!("{}-{id}", self.name),
                receipt,
                body: m.body.clone(),
                receive_count: m.receive_count,
                sent_at: m.sent_at,
                attributes: Vec::new(),
            });
        }
        (out, dead)
    }

    /// The message a receipt names, if it is that message's current delivery.
    fn parse_receipt(&self, receipt: &str) -> Option<u64> {
        let mut parts = receipt.rsplitn(3, ':');
        let _count = parts.next()?;
        let id = parts.next()?.parse().ok()?;
        (parts.next()? == self.name).then_some(id)
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn send_batch(
        &self,
        bodies: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        check_batch(bodies.len(), "messages")?;
        let mut results = Vec::with_capacity(bodies.len());
        let mut sent = 0;
        {
            let mut state = self.state.lock().expect("queue lock");
            for body in bodies {
                if let Err(e) = check_body(body) {
                    results.push(Err(e));
                } else {
                    self.push(&mut state, body.clone());
                    results.push(Ok(()));
                    sent += 1;
                }
            }
        }
        // Wake one waiting receiver per message, not all of them: a
        // thundering herd of idle workers costs more than the work.
        for _ in 0..sent {
            self.arrived.notify_one();
        }
        Ok(results)
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let max = max.clamp(1, MAX_BATCH);
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let (messages, dead, next_expiry) = {
                let mut state = self.state.lock().expect("queue lock");
                Self::expire(&mut state, now);
                let (messages, dead) = self.take(&mut state, max, now);
                (messages, dead, state.in_flight.first().map(|&(at, _)| at))
            };
            if let Some((dlq, _)) = &self.redrive {
                for chunk in dead.chunks(MAX_BATCH) {
                    dlq.send_batch(chunk).await?;
                }
            }
            if !messages.is_empty() {
                return Ok(messages);
            }
            if now >= deadline {
                return Ok(Vec::new());
            }
            let wake = next_expiry.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        let mut state = self.state.lock().expect("queue lock");
        Ok(receipts
            .iter()
            .map(|receipt| {
                let Some(id) = self.parse_receipt(receipt) else {
                    return Err(QueueError::Rejected(format!(
                        "{receipt:?} is not a receipt of queue {}",
                        self.name
                    )));
                };
                match state.messages.get(&id) {
                    // Already deleted: deleting again is harmless.
                    None => Ok(()),
                    Some(m) if m.receipt.as_deref() == Some(receipt.as_str()) => {
                        let m = state.messages.remove(&id).expect("present");
                        if let Some(until) = m.invisible_until {
                            state.in_flight.remove(&(until, id));
                        }
                        Ok(())
                    }
                    Some(_) => Err(QueueError::StaleReceipt),
                }
            })
            .collect())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        let id = self
            .parse_receipt(receipt)
            .ok_or(QueueError::StaleReceipt)?;
        {
            let mut state = self.state.lock().expect("queue lock");
            let now = Instant::now();
            Self::expire(&mut state, now);
            let Some(m) = state.messages.get_mut(&id) else {
                return Err(QueueError::StaleReceipt);
            };
            if m.receipt.as_deref() != Some(receipt) {
                return Err(QueueError::StaleReceipt);
            }
            let old = m.invisible_until.take().expect("in flight");
            state.in_flight.remove(&(old, id));
            let m = state.messages.get_mut(&id).expect("present");
            if timeout.is_zero() {
                m.receipt = None;
                state.visible.push_back(id);
            } else {
                let until = now + timeout;
                m.invisible_until = Some(until);
                state.in_flight.insert((until, id));
            }
        }
        self.arrived.notify_one();
        Ok(())
    }

    async fn approximate_depth(&self) -> Result<QueueDepth, QueueError> {
        let mut state = self.state.lock().expect("queue lock");
        Self::expire(&mut state, Instant::now());
        Ok(QueueDepth {
            visible: state.visible.len() as u64,
            in_flight: state.in_flight.len() as u64,
        })
    }
}
