//! The priority request queue: interactive > user > background, FIFO within a class.
//!
//! Jobs carry a deadline, an optional supersede key and a cancellation flag. A class may cap
//! how many of its jobs run at once and how many start per second. `pop` blocks on a condition
//! variable, so callers release the GIL around it.

use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const CLASSES: [&str; 3] = ["interactive", "user", "background"];

pub fn class_index(name: &str) -> Option<usize> {
    CLASSES.iter().position(|c| *c == name)
}

struct Waiting<T> {
    id: u64,
    key: Option<String>,
    payload: T,
    submitted: Instant,
    deadline: Option<Instant>,
}

/// A job handed out by `pop`: run it, or (when `expired`) settle it without running.
pub struct Popped<T> {
    pub id: u64,
    pub class: usize,
    pub key: Option<String>,
    pub payload: T,
    pub waited: Duration,
    pub expired: bool,
    pub cancelled: Arc<AtomicBool>,
}

#[derive(Default, Clone, Debug)]
pub struct ClassStats {
    pub queued: u64,
    pub running: u64,
    pub submitted: u64,
    pub started: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub superseded: u64,
    pub expired: u64,
    pub wait_p50_ms: f64,
    pub wait_p95_ms: f64,
}

struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate.max(1.0));
        self.last = now;
    }
}

struct ClassState<T> {
    waiting: VecDeque<Waiting<T>>,
    running: usize,
    cap: Option<usize>,
    bucket: Option<Bucket>,
    stats: ClassStats,
    waits_ms: VecDeque<f64>,
}

struct State<T> {
    classes: Vec<ClassState<T>>,
    running: HashMap<u64, (usize, Arc<AtomicBool>)>,
    next_id: u64,
    closed: bool,
}

pub enum CancelOutcome {
    Dropped,
    Flagged,
    Unknown,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    UnknownClass,
    Closed,
}

pub struct RequestQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

const WAIT_SAMPLES: usize = 1024;

impl<T> RequestQueue<T> {
    /// `caps[i]` limits running jobs of class `i`; `rates[i]` limits job starts per second.
    pub fn new(caps: [Option<usize>; 3], rates: [Option<f64>; 3]) -> Self {
        let now = Instant::now();
        let classes = (0..3)
            .map(|i| ClassState {
                waiting: VecDeque::new(),
                running: 0,
                cap: caps[i].map(|c| c.max(1)),
                bucket: rates[i].filter(|r| *r > 0.0).map(|rate| Bucket { rate, tokens: rate.max(1.0), last: now }),
                stats: ClassStats::default(),
                waits_ms: VecDeque::new(),
            })
            .collect();
        RequestQueue { state: Mutex::new(State { classes, running: HashMap::new(), next_id: 1, closed: false }), ready: Condvar::new() }
    }

    /// Queue a job; returns its id and the payloads of waiting jobs with the same key, which
    /// are dropped.
    pub fn submit(&self, class: usize, payload: T, deadline: Option<Duration>, key: Option<String>) -> Result<(u64, Vec<T>), SubmitError> {
        if class >= 3 {
            return Err(SubmitError::UnknownClass);
        }
        let mut state = self.state.lock();
        if state.closed {
            return Err(SubmitError::Closed);
        }
        let mut superseded = Vec::new();
        if let Some(k) = &key {
            for cls in state.classes.iter_mut() {
                let before = cls.waiting.len();
                let mut kept = VecDeque::with_capacity(before);
                for job in cls.waiting.drain(..) {
                    if job.key.as_ref() == Some(k) {
                        superseded.push(job.payload);
                    } else {
                        kept.push_back(job);
                    }
                }
                cls.stats.superseded += (before - kept.len()) as u64;
                cls.waiting = kept;
            }
        }
        let id = state.next_id;
        state.next_id += 1;
        let now = Instant::now();
        let cls = &mut state.classes[class];
        cls.waiting.push_back(Waiting { id, key, payload, submitted: now, deadline: deadline.map(|d| now + d) });
        cls.stats.submitted += 1;
        drop(state);
        self.ready.notify_one();
        Ok((id, superseded))
    }

    /// The next job that may start, waiting up to `timeout` (forever with `None`); `None` on
    /// timeout or once the queue is closed.
    pub fn pop(&self, timeout: Option<Duration>) -> Option<Popped<T>> {
        let give_up = timeout.map(|t| Instant::now() + t);
        let mut state = self.state.lock();
        loop {
            if state.closed {
                return None;
            }
            let now = Instant::now();
            let mut retry_at: Option<Instant> = None;
            for class in 0..3 {
                let cls = &mut state.classes[class];
                let Some(front) = cls.waiting.front() else { continue };
                // An expired job is handed out at once, whatever the caps, to be settled.
                if front.deadline.is_some_and(|d| d <= now) {
                    let job = cls.waiting.pop_front().expect("front");
                    cls.stats.expired += 1;
                    return Some(Popped { id: job.id, class, key: job.key, payload: job.payload, waited: now - job.submitted, expired: true, cancelled: Arc::new(AtomicBool::new(false)) });
                }
                if cls.cap.is_some_and(|cap| cls.running >= cap) {
                    continue;
                }
                if let Some(bucket) = cls.bucket.as_mut() {
                    bucket.refill(now);
                    if bucket.tokens < 1.0 {
                        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / bucket.rate);
                        retry_at = Some(retry_at.map_or(now + wait, |r: Instant| r.min(now + wait)));
                        continue;
                    }
                    bucket.tokens -= 1.0;
                }
                let job = cls.waiting.pop_front().expect("front");
                let waited = now - job.submitted;
                cls.running += 1;
                cls.stats.started += 1;
                cls.waits_ms.push_back(waited.as_secs_f64() * 1000.0);
                if cls.waits_ms.len() > WAIT_SAMPLES {
                    cls.waits_ms.pop_front();
                }
                let flag = Arc::new(AtomicBool::new(false));
                state.running.insert(job.id, (class, flag.clone()));
                return Some(Popped { id: job.id, class, key: job.key, payload: job.payload, waited, expired: false, cancelled: flag });
            }
            // Nothing may start now: sleep until work arrives, a rate token or a deadline is due.
            for cls in &state.classes {
                for job in &cls.waiting {
                    if let Some(d) = job.deadline {
                        retry_at = Some(retry_at.map_or(d, |r| r.min(d)));
                    }
                }
            }
            let wake = match (give_up, retry_at) {
                (Some(g), Some(r)) => Some(g.min(r)),
                (g, r) => g.or(r),
            };
            match wake {
                Some(at) => {
                    if give_up.is_some_and(|g| Instant::now() >= g) {
                        return None;
                    }
                    self.ready.wait_until(&mut state, at);
                }
                None => self.ready.wait(&mut state),
            }
        }
    }

    /// Mark a popped job finished, freeing its class's concurrency slot.
    pub fn complete(&self, id: u64) {
        let mut state = self.state.lock();
        if let Some((class, _)) = state.running.remove(&id) {
            let cls = &mut state.classes[class];
            cls.running = cls.running.saturating_sub(1);
            cls.stats.completed += 1;
            drop(state);
            self.ready.notify_all();
        }
    }

    /// Drop a waiting job, or flag a running one.
    pub fn cancel(&self, id: u64) -> (CancelOutcome, Option<T>) {
        let mut state = self.state.lock();
        if let Some((class, flag)) = state.running.get(&id) {
            flag.store(true, Ordering::SeqCst);
            let class = *class;
            state.classes[class].stats.cancelled += 1;
            return (CancelOutcome::Flagged, None);
        }
        for cls in state.classes.iter_mut() {
            if let Some(pos) = cls.waiting.iter().position(|j| j.id == id) {
                let job = cls.waiting.remove(pos).expect("position");
                cls.stats.cancelled += 1;
                return (CancelOutcome::Dropped, Some(job.payload));
            }
        }
        (CancelOutcome::Unknown, None)
    }

    /// Refuse new work, wake every blocked `pop`, and hand back the jobs still waiting.
    pub fn close(&self) -> Vec<T> {
        let mut state = self.state.lock();
        state.closed = true;
        let dropped = state.classes.iter_mut().flat_map(|c| c.waiting.drain(..).map(|j| j.payload)).collect();
        drop(state);
        self.ready.notify_all();
        dropped
    }

    pub fn len(&self) -> usize {
        self.state.lock().classes.iter().map(|c| c.waiting.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> Vec<(&'static str, ClassStats)> {
        let state = self.state.lock();
        state
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut waits: Vec<f64> = c.waits_ms.iter().copied().collect();
                waits.sort_by(|a, b| a.total_cmp(b));
                let pct = |p: f64| if waits.is_empty() { 0.0 } else { waits[((waits.len() - 1) as f64 * p).round() as usize] };
                let stats = ClassStats { queued: c.waiting.len() as u64, running: c.running as u64, wait_p50_ms: pct(0.5), wait_p95_ms: pct(0.95), ..c.stats.clone() };
                (CLASSES[i], stats)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn queue() -> RequestQueue<&'static str> {
        RequestQueue::new([None, None, None], [None, None, None])
    }

    const NOW: Option<Duration> = Some(Duration::ZERO);

    #[test]
    fn priority_then_fifo() {
        let q = queue();
        q.submit(2, "bg", None, None).unwrap();
        q.submit(1, "user1", None, None).unwrap();
        q.submit(0, "hover", None, None).unwrap();
        q.submit(1, "user2", None, None).unwrap();
        let order: Vec<_> = (0..4).map(|_| q.pop(NOW).unwrap().payload).collect();
        assert_eq!(order, vec!["hover", "user1", "user2", "bg"]);
        assert!(q.pop(NOW).is_none());
    }

    #[test]
    fn a_newer_job_supersedes_the_waiting_one_with_its_key() {
        let q = queue();
        q.submit(0, "hover-1", None, Some("hover:a".into())).unwrap();
        q.submit(0, "other", None, Some("hover:b".into())).unwrap();
        let (_, dropped) = q.submit(0, "hover-2", None, Some("hover:a".into())).unwrap();
        assert_eq!(dropped, vec!["hover-1"]);
        assert_eq!(q.pop(NOW).unwrap().payload, "other");
        assert_eq!(q.pop(NOW).unwrap().payload, "hover-2");
        assert_eq!(q.stats()[0].1.superseded, 1);
    }

    #[test]
    fn cancel_drops_waiting_and_flags_running() {
        let q = queue();
        let (a, _) = q.submit(1, "a", None, None).unwrap();
        let (b, _) = q.submit(1, "b", None, None).unwrap();
        let running = q.pop(NOW).unwrap();
        assert_eq!(running.id, a);
        assert!(matches!(q.cancel(b), (CancelOutcome::Dropped, Some("b"))));
        assert!(matches!(q.cancel(a), (CancelOutcome::Flagged, None)));
        assert!(running.cancelled.load(Ordering::SeqCst));
        assert!(matches!(q.cancel(999), (CancelOutcome::Unknown, None)));
        assert!(q.is_empty());
    }

    #[test]
    fn expired_jobs_are_handed_out_to_be_settled() {
        let q = queue();
        q.submit(1, "late", Some(Duration::ZERO), None).unwrap();
        let job = q.pop(NOW).unwrap();
        assert!(job.expired);
        assert_eq!(q.stats()[1].1.expired, 1);
    }

    #[test]
    fn concurrency_cap_holds_until_complete() {
        let q = RequestQueue::new([None, None, Some(1)], [None, None, None]);
        q.submit(2, "batch1", None, None).unwrap();
        q.submit(2, "batch2", None, None).unwrap();
        let first = q.pop(NOW).unwrap();
        assert!(q.pop(Some(Duration::from_millis(5))).is_none());
        q.complete(first.id);
        assert_eq!(q.pop(NOW).unwrap().payload, "batch2");
    }

    #[test]
    fn rate_cap_spaces_starts() {
        let q = RequestQueue::new([None, None, None], [None, Some(1.0), None]);
        q.submit(1, "a", None, None).unwrap();
        q.submit(1, "b", None, None).unwrap();
        assert_eq!(q.pop(NOW).unwrap().payload, "a");
        assert!(q.pop(Some(Duration::from_millis(10))).is_none(), "second start within the second");
    }

    #[test]
    fn close_wakes_blocked_poppers() {
        let q = Arc::new(queue());
        let waiter = {
            let q = q.clone();
            thread::spawn(move || q.pop(None).is_none())
        };
        // The waiter may or may not be blocked yet; either way close() must release it.
        q.close();
        assert!(waiter.join().unwrap());
        assert_eq!(q.submit(0, "x", None, None).unwrap_err(), SubmitError::Closed);
    }

    #[test]
    fn blocked_pop_receives_work_from_another_thread() {
        let q = Arc::new(queue());
        let waiter = {
            let q = q.clone();
            thread::spawn(move || q.pop(Some(Duration::from_secs(10))).map(|j| j.payload))
        };
        q.submit(0, "work", None, None).unwrap();
        assert_eq!(waiter.join().unwrap(), Some("work"));
    }
}
