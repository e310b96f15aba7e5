//! What a fulfillment worker delivers with: the channels configured and the retry policy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::NotificationConfig;
use super::email::Email;
use super::webhook::Webhook;
use crate::domain::Channel;

/// However many attempts are configured, one wait never exceeds this.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Built by [`NotificationConfig::notifier`], which validates the settings. Cheap to clone. The
/// default has no channel.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    webhook: Option<Webhook>,
    email: Option<Email>,
    max_attempts: i32,
    base: Duration,
}

impl Default for Notifier {
    fn default() -> Self {
        NotificationConfig::default().notifier().expect("no channel needs no validation")
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("channels", &self.channels())
            .field("max_attempts", &self.inner.max_attempts)
            .field("backoff_base", &self.inner.base)
            .finish()
    }
}

impl Notifier {
    pub(super) fn new(webhook: Option<Webhook>, email: Option<Email>, max_attempts: i32, base: Duration) -> Self {
        Notifier { inner: Arc::new(Inner { webhook, email, max_attempts, base }) }
    }

    /// The channels configured, in delivery order.
    pub fn channels(&self) -> Vec<Channel> {
        let webhook = self.inner.webhook.as_ref().map(|_| Channel::Webhook);
        webhook.into_iter().chain(self.inner.email.as_ref().map(|_| Channel::Email)).collect()
    }

    pub fn max_attempts(&self) -> i32 {
        self.inner.max_attempts
    }

    /// The wait after failed attempt `attempt` (1-based): base, 2 x base, 4 x base...
    pub fn backoff(&self, attempt: usize) -> Duration {
        crate::domain::job::backoff(self.inner.base, attempt, MAX_BACKOFF)
    }

    pub fn webhook(&self) -> Option<&Webhook> {
        self.inner.webhook.as_ref()
    }

    pub fn email(&self) -> Option<&Email> {
        self.inner.email.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let notifier = NotificationConfig { notify_backoff_base_ms: 200, ..Default::default() }.notifier().unwrap();
        let waits: Vec<_> = (1..=4).map(|a| notifier.backoff(a).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600]);
        assert_eq!(notifier.backoff(60), MAX_BACKOFF);
    }
}
