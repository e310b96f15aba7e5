//! How a worker hears of new jobs: the queue's `NOTIFY` (apalis-postgres's `Pubsub`), without
//! losing one.
//!
//! apalis's own `StreamStrategy` takes one notification per poll and leaves the stream without a
//! waker when it took one: a notification that came while the worker was fetching (say the other
//! worker process took the job) was the last thing that woke it, and the next ones wake nobody
//! until the polling interval (one second). Measured as a buyer waiting for the decision: one in
//! a hundred waited ~900 ms. Here every poll drains the stream until it is pending (so it always
//! holds the worker's waker), and a notification is echoed once a moment later: a fetch that was
//! already running when the job committed could not see it, the echo's fetch does.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{PollSnapshot, PollStrategy};
use futures::{Stream, StreamExt};

/// How long after a notification the worker looks again.
const ECHO_AFTER: Duration = Duration::from_millis(20);

/// A worker's wake-ups: every notification of its queue, each echoed once.
pub struct Wakeups<S> {
    notifications: S,
    /// Due a moment after the last notification.
    echo: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Wakeups<S> {
    pub fn new(notifications: S) -> Wakeups<S> {
        Wakeups { notifications, echo: None }
    }
}

impl<S: Stream + Unpin> PollStrategy for Wakeups<S> {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut notified = false;
        // until pending: only then does the stream keep the waker for the next notification
        while let Poll::Ready(Some(_)) = self.notifications.poll_next_unpin(cx) {
            notified = true;
        }
        if notified {
            self.echo = Some(Box::pin(tokio::time::sleep(ECHO_AFTER)));
        }
        if let Some(echo) = self.echo.as_mut()
            && echo.as_mut().poll(cx).is_ready()
        {
            self.echo = None;
            return Poll::Ready(Some(()));
        }
        if notified { Poll::Ready(Some(())) } else { Poll::Pending }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use futures::channel::mpsc;

    use super::*;

    /// Counts how often it was woken.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A worker's view: the notifications it is sent, its wake-ups, and how often it was woken.
    struct Worker {
        notify: mpsc::UnboundedSender<()>,
        wakeups: Wakeups<mpsc::UnboundedReceiver<()>>,
        woken: Arc<Counter>,
        waker: Waker,
    }

    impl Worker {
        fn new() -> Worker {
            let (notify, rx) = mpsc::unbounded();
            let woken = Arc::new(Counter::default());
            Worker { notify, wakeups: Wakeups::new(rx), waker: Waker::from(woken.clone()), woken }
        }

        fn poll(&mut self) -> Poll<Option<()>> {
            self.wakeups.poll_drive(&mut Context::from_waker(&self.waker), &PollSnapshot::new())
        }

        fn times_woken(&self) -> usize {
            self.woken.0.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn a_notification_after_one_was_taken_still_wakes_the_worker() {
        let mut worker = Worker::new();
        worker.notify.unbounded_send(()).unwrap();
        worker.notify.unbounded_send(()).unwrap();
        assert!(worker.poll().is_ready(), "notified");
        // both were taken; the worker goes to sleep on its (empty) fetch
        let woken = worker.times_woken();
        worker.notify.unbounded_send(()).unwrap();
        assert!(worker.times_woken() > woken, "the next notification wakes the worker");
    }

    #[tokio::test]
    async fn a_notification_is_echoed_once_a_moment_later() {
        let mut worker = Worker::new();
        worker.notify.unbounded_send(()).unwrap();
        assert!(worker.poll().is_ready());
        assert!(worker.poll().is_pending(), "nothing new yet");
        let woken = worker.times_woken();
        let echoed = async {
            while worker.times_woken() == woken {
                tokio::time::sleep(ECHO_AFTER / 4).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), echoed).await.expect("the echo woke the worker");
        assert!(worker.poll().is_ready(), "the echo");
        assert!(worker.poll().is_pending(), "once");
    }
}
