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

    #[tokio::test]
    async fn a_notification_after_one_was_taken_still_wakes_the_worker() {
        let (tx, rx) = mpsc::unbounded::<()>();
        let mut wakeups = Wakeups::new(rx);
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        tx.unbounded_send(()).unwrap();
        tx.unbounded_send(()).unwrap();
        assert!(wakeups.poll_drive(&mut cx, &PollSnapshot::new()).is_ready(), "notified");
        // both were taken; the worker goes to sleep on its (empty) fetch
        let woken = counter.0.load(Ordering::SeqCst);
        tx.unbounded_send(()).unwrap();
        assert!(counter.0.load(Ordering::SeqCst) > woken, "the next notification wakes the worker");
    }

    #[tokio::test]
    async fn a_notification_is_echoed_once_a_moment_later() {
        let (tx, rx) = mpsc::unbounded::<()>();
        let mut wakeups = Wakeups::new(rx);
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        tx.unbounded_send(()).unwrap();
        assert!(wakeups.poll_drive(&mut cx, &PollSnapshot::new()).is_ready());
        assert!(wakeups.poll_drive(&mut cx, &PollSnapshot::new()).is_pending(), "nothing new yet");
        let woken = counter.0.load(Ordering::SeqCst);
        let echoed = async {
            while counter.0.load(Ordering::SeqCst) == woken {
                tokio::time::sleep(ECHO_AFTER / 4).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), echoed).await.expect("the echo woke the worker");
        assert!(wakeups.poll_drive(&mut cx, &PollSnapshot::new()).is_ready(), "the echo");
        assert!(wakeups.poll_drive(&mut cx, &PollSnapshot::new()).is_pending(), "once");
        drop(tx);
    }
}
