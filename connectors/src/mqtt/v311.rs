//! MQTT 3.1.1 glue for the source loop: rumqttc's 3.1.1 client and event loop behind [`Client`] and [`Connection`].

use super::source::{self, Message, REQUEST_CHANNEL, Step};
use super::{MqttConfig, MqttError};
use crate::route::Command;
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, Outgoing, Packet, Publish, QoS, SubscribeFilter};
use rumqttc::{ConnectReturnCode, SubscribeReasonCode};
use std::borrow::Cow;
use std::time::Duration;
use tracing::{debug, warn};

/// rumqttc's 3.1.1 client with the filters to subscribe to.
#[derive(Clone)]
pub(super) struct Client311 {
    client: AsyncClient,
    filters: Vec<SubscribeFilter>,
}

/// rumqttc's 3.1.1 event loop.
pub(super) struct Connection311 {
    client: Client311,
    eventloop: EventLoop,
}

impl Connection311 {
    /// A not yet connected client for `config` (manual acks) that subscribes to `filters`.
    pub(super) fn new(config: &MqttConfig, filters: Vec<String>) -> Result<Self, MqttError> {
        let mut options = config.mqtt_options()?;
        // Manual acks are a no-op for QoS 0 deliveries, so they can always be on.
        options.set_manual_acks(true);
        let (client, eventloop) = AsyncClient::new(options, REQUEST_CHANNEL);
        let filters = filters.into_iter().map(|f| SubscribeFilter::new(f, config.qos())).collect();
        Ok(Connection311 { client: Client311 { client, filters }, eventloop })
    }
}

impl source::Client for Client311 {
    type Publish = Publish;

    fn message(publish: &Publish) -> Message<'_> {
        Message { topic: Cow::Borrowed(&publish.topic), payload: &publish.payload, dup: publish.dup }
    }

    async fn ack(&self, publish: &Publish) -> Result<(), String> {
        self.client.ack(publish).await.map_err(|e| e.to_string())
    }

    async fn send_command(&self, command: Command) -> Result<(), String> {
        self.client.publish(command.topic, QoS::AtMostOnce, false, command.payload).await.map_err(|e| e.to_string())
    }

    fn subscribe(&self) {
        if let Err(e) = self.client.try_subscribe_many(self.filters.clone()) {
            warn!(error = %e, "failed to queue mqtt subscriptions");
        }
    }
}

impl source::Connection for Connection311 {
    type Client = Client311;

    fn client(&self) -> Client311 {
        self.client.clone()
    }

    async fn poll(&mut self) -> Step<Publish> {
        match self.eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => Step::Connected { session_present: ack.session_present },
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let mut refused = 0;
                for (code, filter) in ack.return_codes.iter().zip(&self.client.filters) {
                    match code {
                        SubscribeReasonCode::Failure => {
                            refused += 1;
                            warn!(filter = %filter.path, "failed to subscribe to `{}`: the broker refused it (return code 0x80)", filter.path);
                        }
                        SubscribeReasonCode::Success(qos) => debug!(filter = %filter.path, ?qos, "subscribed"),
                    }
                }
                Step::Subscribed { refused }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => Step::Publish(publish),
            Ok(_) => Step::Other,
            Err(ConnectionError::ConnectionRefused(code)) => Step::Failed(format!(
                "the broker refused the connection: {} (return code {})",
                connect_refusal_meaning(code),
                code as u8
            )),
            Err(error) => Step::Failed(error.to_string()),
        }
    }

    async fn disconnect(&mut self) {
        if self.client.client.try_disconnect().is_err() {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                match self.eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}

/// What an MQTT 3.1.1 CONNACK return code means to someone setting up the broker.
fn connect_refusal_meaning(code: ConnectReturnCode) -> &'static str {
    match code {
        ConnectReturnCode::Success => "accepted",
        ConnectReturnCode::RefusedProtocolVersion => "the broker does not speak mqtt 3.1.1",
        ConnectReturnCode::BadClientId => "client id not allowed",
        ConnectReturnCode::ServiceUnavailable => "server unavailable",
        ConnectReturnCode::BadUserNamePassword => "bad user name or password",
        ConnectReturnCode::NotAuthorized => "not authorized",
    }
}
