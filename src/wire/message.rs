//! Every message type the spec names (§6–§8).

use std::fmt;

macro_rules! message_types {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// A message `type` defined by ARCP v1.1.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MessageType { $($variant),* }

        impl MessageType {
            pub const ALL: &'static [MessageType] = &[$(MessageType::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(MessageType::$variant => $name),* }
            }

            pub fn parse(s: &str) -> Option<MessageType> {
                match s { $($name => Some(MessageType::$variant),)* _ => None }
            }
        }
    };
}

message_types! {
    SessionHello = "session.hello",
    SessionWelcome = "session.welcome",
    SessionError = "session.error",
    SessionPing = "session.ping",
    SessionPong = "session.pong",
    SessionAck = "session.ack",
    SessionListJobs = "session.list_jobs",
    SessionJobs = "session.jobs",
    SessionResume = "session.resume",
    SessionClose = "session.close",
    SessionClosed = "session.closed",
    JobSubmit = "job.submit",
    JobAccepted = "job.accepted",
    JobEvent = "job.event",
    JobResult = "job.result",
    JobError = "job.error",
    JobCancel = "job.cancel",
    JobCancelled = "job.cancelled",
    JobSubscribe = "job.subscribe",
    JobSubscribed = "job.subscribed",
    JobUnsubscribe = "job.unsubscribe",
}

impl MessageType {
    /// Sent by clients; the rest are sent by runtimes (ping/pong go both ways).
    pub fn sent_by_client(self) -> bool {
        use MessageType::*;
        matches!(
            self,
            SessionHello
                | SessionPing
                | SessionPong
                | SessionAck
                | SessionListJobs
                | SessionResume
                | SessionClose
                | JobSubmit
                | JobCancel
                | JobSubscribe
                | JobUnsubscribe
        )
    }

    pub fn sent_by_runtime(self) -> bool {
        use MessageType::*;
        !self.sent_by_client() || matches!(self, SessionPing | SessionPong)
    }

    /// Messages that carry an `event_seq` (job events and the terminal messages).
    pub fn is_sequenced(self) -> bool {
        matches!(
            self,
            MessageType::JobEvent | MessageType::JobResult | MessageType::JobError
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, MessageType::JobResult | MessageType::JobError)
    }

    /// The feature a message needs negotiated before either peer may use it (§6.2).
    pub fn feature(self) -> Option<crate::wire::Feature> {
        use crate::wire::Feature;
        use MessageType::*;
        match self {
            SessionAck => Some(Feature::Ack),
            SessionListJobs | SessionJobs => Some(Feature::ListJobs),
            JobSubscribe | JobSubscribed | JobUnsubscribe => Some(Feature::Subscribe),
            _ => None,
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
