//! How notifications go out: the channels (webhook, SMTP) and the retry policy, from the command
//! line or the environment, validated once at start into a [`Notifier`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;

use super::email::Email;
use super::notifier::Notifier;
use super::webhook::Webhook;

const DEFAULT_MAX_ATTEMPTS: i32 = 5;
/// A receiver that is down for a deploy should not use up the attempts in seconds: 30 s, 1 min,
/// 2 min, 4 min with the defaults.
const DEFAULT_BACKOFF_BASE_MS: u64 = 30_000;

/// Notification channels and retries. No channel configured is allowed: notifications are then
/// recorded and logged, and read `unsent`.
#[derive(Debug, Clone, clap::Args)]
pub struct NotificationConfig {
    /// Where webhooks are POSTed (JSON). Unset: no webhook channel.
    #[arg(long, env = "WEBHOOK_URL")]
    pub webhook_url: Option<reqwest::Url>,
    /// Key of the webhooks' HMAC-SHA256 signature; required with WEBHOOK_URL. `whsec_<base64>`
    /// (Standard Webhooks) is the key in base64; anything else is the key as text.
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,
    /// Seconds a webhook receiver has to answer.
    #[arg(long, env = "WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,
    /// SMTP server for email. Unset: no email channel.
    #[arg(long, env = "SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// Default by SMTP_TLS: 25 (none), 587 (starttls), 465 (tls).
    #[arg(long, env = "SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// The sender, e.g. `Boxoffice <tickets@example.com>`; required with SMTP_HOST.
    #[arg(long, env = "SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// SMTP login, with SMTP_PASSWORD.
    #[arg(long, env = "SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// SMTP password, with SMTP_USERNAME.
    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<Secret>,
    /// `none` (plain: a relay on the same host or network), `starttls` or `tls`.
    #[arg(long, env = "SMTP_TLS", value_enum, default_value_t = SmtpTls::Starttls)]
    pub smtp_tls: SmtpTls,
    /// Attempts per channel before a notification is `failed` (1 to 100).
    #[arg(long, env = "NOTIFY_MAX_ATTEMPTS", default_value_t = DEFAULT_MAX_ATTEMPTS,
          value_parser = clap::value_parser!(i32).range(1..=100))]
    pub notify_max_attempts: i32,
    /// Wait before the second attempt, in milliseconds; doubled before each next one (at most an hour).
    #[arg(long, env = "NOTIFY_BACKOFF_BASE_MS", default_value_t = DEFAULT_BACKOFF_BASE_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub notify_backoff_base_ms: u64,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpTls {
    /// Plain text: only for a relay you trust on the path (localhost, the same network).
    None,
    /// Upgrade a plain connection (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// A value that never shows in logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl Default for NotificationConfig {
    /// No channel, default retries (what an empty environment gives).
    fn default() -> Self {
        NotificationConfig {
            webhook_url: None,
            webhook_secret: None,
            webhook_timeout_secs: 10,
            smtp_host: None,
            smtp_port: None,
            smtp_from: None,
            smtp_username: None,
            smtp_password: None,
            smtp_tls: SmtpTls::Starttls,
            notify_max_attempts: DEFAULT_MAX_ATTEMPTS,
            notify_backoff_base_ms: DEFAULT_BACKOFF_BASE_MS,
        }
    }
}

impl NotificationConfig {
    /// The channels and policy, or one clear message about what is missing or wrong.
    pub fn notifier(&self) -> Result<Notifier, ConfigError> {
        let webhook = match (&self.webhook_url, &self.webhook_secret) {
            (None, _) => None,
            (Some(_), None) => return Err(ConfigError::new("WEBHOOK_SECRET is required with WEBHOOK_URL")),
            (Some(url), Some(secret)) => {
                let timeout = Duration::from_secs(self.webhook_timeout_secs.max(1));
                let webhook = Webhook::new(url.clone(), secret.expose(), timeout);
                Some(webhook.map_err(|e| ConfigError::new(format!("WEBHOOK_URL / WEBHOOK_SECRET: {e}")))?)
            }
        };
        let email = match &self.smtp_host {
            None => None,
            Some(host) => {
                let from = self
                    .smtp_from
                    .as_deref()
                    .ok_or_else(|| ConfigError::new("SMTP_FROM is required with SMTP_HOST"))?;
                let login = match (&self.smtp_username, &self.smtp_password) {
                    (Some(user), Some(password)) => Some((user.clone(), password.expose().to_string())),
                    (None, None) => None,
                    _ => return Err(ConfigError::new("SMTP_USERNAME and SMTP_PASSWORD go together")),
                };
                let email = Email::new(host, self.smtp_port, self.smtp_tls, from, login);
                Some(email.map_err(|e| ConfigError::new(format!("SMTP settings: {e}")))?)
            }
        };
        let base = Duration::from_millis(self.notify_backoff_base_ms);
        Ok(Notifier::new(webhook, email, self.notify_max_attempts, base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_needs_a_secret_and_email_a_sender() {
        let url = Some("http://127.0.0.1:9/hook".parse().unwrap());
        let no_secret = NotificationConfig { webhook_url: url, ..Default::default() };
        assert!(no_secret.notifier().unwrap_err().to_string().contains("WEBHOOK_SECRET"));
        let no_from = NotificationConfig { smtp_host: Some("localhost".into()), ..Default::default() };
        assert!(no_from.notifier().unwrap_err().to_string().contains("SMTP_FROM"));
        assert!(Notifier::default().channels().is_empty());
    }
}
