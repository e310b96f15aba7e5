//! Serving requests many at a time: the one batcher behind the on-sale's hot paths (the
//! reservation intake, the waiting-list writer, position lookups, queue joins).
//!
//! During an on-sale thousands of requests a second do the same thing to the same rows; one
//! transaction each would spend a round trip, a lock and a commit per buyer. A batcher takes
//! every request waiting at a moment and hands them to its [`Batch`] at once, which answers each
//! through the reply the request carries. A reply is typed ([`Reply<T>`]): a caller can only ever
//! receive the answer of its own kind, so a batch of mixed requests cannot mix up answers.
//!
//! Batchers live as long as the server: they are started on its [`Tasks`] and, once shutdown is
//! asked for, answer what they already took and refuse what comes after with 503
//! `UNAVAILABLE` (nothing done, retry elsewhere or later).

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Error, Result};

/// Requests handed to a batch at most.
pub const MAX_BATCH: usize = 1000;

/// The tasks of a process that must end cleanly: cancelled together on shutdown, waited for
/// before the process exits.
#[derive(Clone, Default)]
pub struct Tasks {
    /// Cancelled when shutdown is asked for (SIGTERM, Ctrl-C).
    pub shutdown: CancellationToken,
    /// The tasks to wait for once shutdown was asked for.
    pub tracker: TaskTracker,
}

impl Tasks {
    pub fn new(shutdown: CancellationToken) -> Tasks {
        Tasks { shutdown, tracker: TaskTracker::new() }
    }

    /// Waits until every task started on it has ended (call after cancelling).
    pub async fn drained(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Where the answer to one request goes; the batch must answer every request it is handed.
#[must_use = "a request's caller waits for its answer"]
pub struct Reply<T>(oneshot::Sender<Result<T>>);

impl<T> Reply<T> {
    /// The caller gave up (its deadline passed, its connection closed): it was told nothing was
    /// done, so nothing must be.
    pub fn caller_gone(&self) -> bool {
        self.0.is_closed()
    }

    pub fn send(self, answer: Result<T>) {
        // the caller may have given up (its deadline passed): nobody to tell
        let _ = self.0.send(answer);
    }
}

/// A request whose answer is of one type: the input and where its answer goes.
pub struct Call<I, T> {
    pub input: I,
    pub reply: Reply<T>,
}

/// What a batcher does with the requests it took: answer each through its reply.
pub trait Batch: Send + Sync + 'static {
    /// A request, carrying its own reply.
    type Request: Send + 'static;

    /// Answers every request of `requests` (taken in arrival order).
    fn run(&self, requests: Vec<Self::Request>) -> impl Future<Output = ()> + Send;
}

/// Handle to a running batcher. Cheap to clone.
pub struct Batcher<R> {
    name: &'static str,
    queue: mpsc::Sender<R>,
    shutdown: CancellationToken,
}

impl<R> Clone for Batcher<R> {
    fn clone(&self) -> Self {
        Batcher { name: self.name, queue: self.queue.clone(), shutdown: self.shutdown.clone() }
    }
}

impl<R: Send + 'static> Batcher<R> {
    /// Starts a batcher running `batch` on `tasks`, named for the logs.
    pub fn start<B: Batch<Request = R>>(name: &'static str, batch: B, tasks: &Tasks) -> Batcher<R> {
        let (queue, requests) = mpsc::channel(MAX_BATCH * 4);
        tasks.tracker.spawn(run(name, batch, requests, tasks.shutdown.clone()));
        Batcher { name, queue, shutdown: tasks.shutdown.clone() }
    }

    /// Hands over a request made with its reply, and waits for the answer.
    pub async fn call<T>(&self, request: impl FnOnce(Reply<T>) -> R) -> Result<T> {
        if self.shutdown.is_cancelled() {
            return Err(shutting_down());
        }
        let (reply, answer) = oneshot::channel();
        self.queue.send(request(Reply(reply))).await.map_err(|_| shutting_down())?;
        answer.await.map_err(|_| {
            // the batch dropped the reply: it panicked (logged where it was caught) or has a bug
            Error::Internal(anyhow::anyhow!("the {} batcher dropped a request", self.name))
        })?
    }
}

impl<I: Send + 'static, T: Send + 'static> Batcher<Call<I, T>> {
    /// [`Batcher::call`] for a batcher whose requests all answer the same type.
    pub async fn ask(&self, input: I) -> Result<T> {
        self.call(|reply| Call { input, reply }).await
    }
}

/// The answer of each of `callers` when their batch failed as a whole: the same error, of the
/// same class (a busy database is a 503 for each, a refusal the same refusal), logged here once
/// rather than once per caller.
pub fn each_caller(batcher: &str, error: Error, callers: usize) -> Vec<Error> {
    match &error {
        Error::Internal(cause) => tracing::error!(batcher, batch = callers, error = ?cause, "a batch failed"),
        Error::Unavailable(why) => tracing::warn!(batcher, batch = callers, %why, "a batch could not be served"),
        _ => {}
    }
    (0..callers).map(|_| error.duplicate().logged()).collect()
}

fn shutting_down() -> Error {
    Error::Unavailable("the server is shutting down: retry in a moment".into())
}

/// Takes whatever is waiting (at least one), runs it, again; on shutdown stops taking, answers
/// what was already taken, and ends.
async fn run<B: Batch>(
    name: &'static str,
    batch: B,
    mut requests: mpsc::Receiver<B::Request>,
    shutdown: CancellationToken,
) {
    let mut taken = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            n = requests.recv_many(&mut taken, MAX_BATCH) => if n == 0 { return },
        }
        run_one(name, &batch, std::mem::take(&mut taken)).await;
    }
    // senders that come now are refused; those already queued were taken and are answered
    requests.close();
    while requests.recv_many(&mut taken, MAX_BATCH).await > 0 {
        run_one(name, &batch, std::mem::take(&mut taken)).await;
    }
    tracing::debug!(batcher = name, "batcher drained");
}

/// One batch; a panic in it fails its requests (their replies are dropped), not the batcher.
async fn run_one<B: Batch>(name: &'static str, batch: &B, requests: Vec<B::Request>) {
    let size = requests.len();
    if let Err(panic) = AssertUnwindSafe(batch.run(requests)).catch_unwind().await {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(batcher = name, batch = size, panic = %message, "a batch panicked; its requests failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubles numbers; panics on 13.
    struct Doubler;

    impl Batch for Doubler {
        type Request = Call<i32, i32>;

        async fn run(&self, requests: Vec<Call<i32, i32>>) {
            assert!(requests.iter().all(|r| r.input != 13), "unlucky");
            for r in requests {
                r.reply.send(Ok(r.input * 2));
            }
        }
    }

    #[tokio::test]
    async fn every_caller_gets_its_own_answer() {
        let tasks = Tasks::default();
        let doubler = Batcher::start("doubler", Doubler, &tasks);
        let answers = futures::future::join_all((100..150).map(|i| doubler.ask(i))).await;
        let answers: Vec<i32> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, (100..150).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_panicking_batch_fails_its_callers_and_the_batcher_goes_on() {
        let tasks = Tasks::default();
        let doubler = Batcher::start("doubler", Doubler, &tasks);
        assert!(matches!(doubler.ask(13).await, Err(Error::Internal(_))));
        assert_eq!(doubler.ask(2).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn after_shutdown_requests_are_refused_as_unavailable_and_the_batcher_ends() {
        let tasks = Tasks::default();
        let doubler = Batcher::start("doubler", Doubler, &tasks);
        assert_eq!(doubler.ask(1).await.unwrap(), 2);
        tasks.shutdown.cancel();
        assert!(matches!(doubler.ask(1).await, Err(Error::Unavailable(_))));
        tokio::time::timeout(std::time::Duration::from_secs(5), tasks.drained()).await.expect("the batcher ended");
    }

    /// Holds each batch until let through, and says when one started.
    struct Gate {
        started: tokio::sync::Notify,
        open: tokio::sync::Semaphore,
    }

    impl Batch for std::sync::Arc<Gate> {
        type Request = Call<i32, i32>;

        async fn run(&self, requests: Vec<Call<i32, i32>>) {
            self.started.notify_one();
            self.open.acquire().await.unwrap().forget();
            for r in requests {
                r.reply.send(Ok(r.input));
            }
        }
    }

    #[tokio::test]
    async fn requests_taken_before_shutdown_are_answered() {
        let tasks = Tasks::default();
        let gate = std::sync::Arc::new(Gate { started: Default::default(), open: tokio::sync::Semaphore::new(0) });
        let batcher = Batcher::start("gate", gate.clone(), &tasks);
        let ask = |n| {
            let b = batcher.clone();
            tokio::spawn(async move { b.ask(n).await })
        };
        let first = ask(1);
        gate.started.notified().await;
        // the first batch is running; the second request waits in the queue when shutdown comes
        let second = ask(2);
        while batcher.queue.capacity() == batcher.queue.max_capacity() {
            tokio::task::yield_now().await;
        }
        tasks.shutdown.cancel();
        gate.open.add_permits(2);
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(second.await.unwrap().unwrap(), 2);
        tasks.drained().await;
    }
}
