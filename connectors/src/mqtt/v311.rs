//! MQTT 3.1.1 glue for the source loop: rumqttc's 3.1.1 client and event loop behind [`source::Client`] and [`source::Connection`].

use super::source::{self, REQUEST_CHANNEL, Step, rumqttc_client};
use super::{MqttConfig, MqttError};
use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, Outgoing, Packet, Publish};
use rumqttc::{QoS, SubscribeFilter, SubscribeReasonCode};
use std::borrow::Cow;

rumqttc_client!(Client311, AsyncClient, Publish, SubscribeFilter, QoS, Cow::Borrowed);

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

impl source::Connection for Connection311 {
    type Client = Client311;

    fn client(&self) -> Client311 {
        self.client.clone()
    }

    async fn poll(&mut self) -> Step<Publish> {
        match self.eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => Step::Connected { session_present: ack.session_present },
            Ok(Event::Incoming(Packet::SubAck(ack))) => Step::Subscribed(
                ack.return_codes
                    .iter()
                    .map(|code| match code {
                        SubscribeReasonCode::Success(_) => Ok(()),
                        SubscribeReasonCode::Failure => Err("the broker refused it (return code 0x80)".into()),
                    })
                    .collect(),
            ),
            Ok(Event::Incoming(Packet::Publish(publish))) => Step::Publish(publish),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Step::DisconnectSent,
            Ok(_) => Step::Other,
            Err(ConnectionError::ConnectionRefused(code)) => Step::Failed(format!(
                "the broker refused the connection: {} (return code {})",
                connect_refusal_meaning(code),
                code as u8
            )),
            Err(error) => Step::Failed(error.to_string()),
        }
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
