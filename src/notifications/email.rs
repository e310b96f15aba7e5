//! The email channel: a plain-text message over SMTP with lettre.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::SmtpTls;
use super::render::Rendered;
use super::{ConfigError, SendError};

/// How long one SMTP command may take: a stuck server must not hold a job until the job timeout.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// An SMTP relay and the sender.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Email {
    pub fn new(
        host: &str,
        port: Option<u16>,
        tls: SmtpTls,
        from: &str,
        login: Option<(String, String)>,
    ) -> Result<Self, ConfigError> {
        let from: Mailbox =
            from.parse().map_err(|_| ConfigError::new(format!("SMTP_FROM '{from}' is not an address")))?;
        let relay_error = |e| ConfigError::new(format!("SMTP_HOST '{host}' cannot be used with TLS: {e}"));
        let mut builder = match tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(relay_error)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(relay_error)?,
        };
        if let Some(port) = port {
            builder = builder.port(port);
        }
        if let Some((user, password)) = login {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Email { transport: builder.timeout(Some(SMTP_TIMEOUT)).build(), from })
    }

    /// One attempt. A malformed recipient or a permanent refusal (5xx) will not heal by waiting;
    /// anything else is retried.
    pub async fn send(&self, id: &str, to: &str, message: &Rendered) -> Result<(), SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| SendError::Permanent(anyhow::anyhow!("recipient address '{to}' is not usable: {e}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            // the same on every attempt, so mail clients show a retried message once
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())))
            .header(ContentType::TEXT_PLAIN)
            .body(message.text.clone())
            .map_err(|e| SendError::Permanent(anyhow::anyhow!("building the email failed: {e}")))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(anyhow::anyhow!("SMTP refused the email: {e}"))),
            Err(e) => Err(SendError::Transient(anyhow::anyhow!("email not delivered: {e}"))),
        }
    }
}
