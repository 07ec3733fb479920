//! MQTT 5 glue for the source loop: options (clean start, session expiry, limits), rumqttc's MQTT 5 client and event loop behind [`source::Client`] and [`source::Connection`], and what the broker's reason codes mean.

use super::source::{self, REQUEST_CHANNEL, Step, rumqttc_client};
use super::{MqttConfig, MqttError};
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{ConnAck, ConnectReturnCode, Filter, Publish, SubAck, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, Incoming, MqttOptions, StateError};
use std::time::Duration;
use tracing::{debug, info, warn};

/// The Receive Maximum the source announces: the broker keeps at most this many QoS 1 publishes
/// unacknowledged in flight to us. Below [`REQUEST_CHANNEL`], so an ack always finds room there.
const RECEIVE_MAXIMUM: u16 = 1024;

impl MqttConfig {
    /// rumqttc MQTT 5 options for this config: transport and credentials as for 3.1.1, clean start
    /// from `clean_session`, and for a persistent session a Session Expiry Interval of
    /// `session_expiry_s` (without it an MQTT 5 broker ends the session at disconnect).
    /// Reads the CA file and the client certificate and key, so errors here are configuration errors.
    pub fn mqtt5_options(&self) -> Result<MqttOptions, MqttError> {
        let url = self.validated_url()?;
        let mut opts = MqttOptions::new(self.client_id.clone(), url.host.clone(), url.port);
        // `validate` keeps protocol 5 at 5 s or more, rumqttc's MQTT 5 minimum.
        opts.set_keep_alive(Duration::from_secs(self.keep_alive_s.max(5)));
        opts.set_clean_start(self.clean_session);
        opts.set_session_expiry_interval((!self.clean_session).then_some(self.session_expiry_s));
        // Announced to the broker as our Maximum Packet Size: it discards bigger messages instead
        // of sending them (3.1.1 would drop the connection over them).
        opts.set_max_packet_size(Some(u32::try_from(self.packet_limit()).unwrap_or(u32::MAX)));
        opts.set_receive_maximum(Some(RECEIVE_MAXIMUM));
        if let Some((user, password)) = self.credentials() {
            opts.set_credentials(user, password);
        }
        opts.set_transport(self.transport(&url)?);
        Ok(opts)
    }
}

// MQTT requires UTF-8 topics; a broken one is shown lossily and matches no pattern.
rumqttc_client!(Client5, AsyncClient, Publish, Filter, QoS, String::from_utf8_lossy);

/// rumqttc's MQTT 5 event loop.
pub(super) struct Connection5 {
    client: Client5,
    eventloop: EventLoop,
    /// The Session Expiry Interval asked for (`None` for a clean session).
    session_expiry_s: Option<u32>,
}

impl Connection5 {
    /// A not yet connected client for `config` (manual acks) that subscribes to `filters`.
    pub(super) fn new(config: &MqttConfig, filters: Vec<String>) -> Result<Self, MqttError> {
        let mut options = config.mqtt5_options()?;
        let session_expiry_s = options.session_expiry_interval();
        // Manual acks are a no-op for QoS 0 deliveries, so they can always be on.
        options.set_manual_acks(true);
        let (client, eventloop) = AsyncClient::new(options, REQUEST_CHANNEL);
        let qos = if config.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
        let filters = filters.into_iter().map(|f| Filter::new(f, qos)).collect();
        Ok(Connection5 { client: Client5 { client, filters }, eventloop, session_expiry_s })
    }
}

impl source::Connection for Connection5 {
    type Client = Client5;

    fn client(&self) -> Client5 {
        self.client.clone()
    }

    async fn poll(&mut self) -> Step<Publish> {
        match self.eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => connected(&ack, self.session_expiry_s),
            Ok(Event::Incoming(Incoming::SubAck(ack))) => subscribed(&ack),
            Ok(Event::Incoming(Incoming::Publish(publish))) => Step::Publish(publish),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Step::DisconnectSent,
            Ok(_) => Step::Other,
            Err(error) => Step::Failed(describe(&error)),
        }
    }
}

/// Logs what the broker told us about the session and its limits, warning when it keeps the
/// session for less time than `requested_expiry_s`. rumqttc itself keeps to the broker's Receive
/// Maximum and Maximum Packet Size for what we send (only Sparkplug rebirth requests, at QoS 0).
fn connected(ack: &ConnAck, requested_expiry_s: Option<u32>) -> Step<Publish> {
    let props = ack.properties.as_ref();
    if let Some(id) = props.and_then(|p| p.assigned_client_identifier.as_deref()) {
        info!(client_id = %id, "the mqtt broker assigned the client id");
    }
    let expiry = props.and_then(|p| p.session_expiry_interval);
    debug!(
        session_expiry_s = ?expiry,
        receive_maximum = ?props.and_then(|p| p.receive_max),
        maximum_packet_size = ?props.and_then(|p| p.max_packet_size),
        maximum_qos = ?props.and_then(|p| p.max_qos),
        "mqtt 5 broker limits"
    );
    if let Some(expiry) = shortened_expiry(requested_expiry_s, expiry) {
        warn!(
            session_expiry_s = expiry,
            requested_s = ?requested_expiry_s,
            "the mqtt broker keeps the session for less time than asked: messages published while spikewatch is down \
             for longer are lost"
        );
    }
    Step::Connected { session_present: ack.session_present }
}

/// The broker's Session Expiry Interval when it is shorter than the one asked for. A broker sends
/// one only to override ours (MQTT 5.0, 3.2.2.3.2); a longer one, or one for a clean session
/// (which asks for none), loses nothing.
fn shortened_expiry(requested_s: Option<u32>, granted_s: Option<u32>) -> Option<u32> {
    granted_s.filter(|&granted| requested_s.is_some_and(|requested| granted < requested))
}

/// Each filter's reason code with its meaning, and the broker's reason string if it sent one.
fn subscribed(ack: &SubAck) -> Step<Publish> {
    let reason = ack.properties.as_ref().and_then(|p| p.reason_string.as_deref());
    let reason = reason.map(|r| format!(": {r}")).unwrap_or_default();
    Step::Subscribed(
        ack.return_codes
            .iter()
            .map(|code| match code {
                SubscribeReasonCode::Success(_) => Ok(()),
                refused => {
                    let (number, meaning) = subscribe_reason(*refused);
                    Err(format!("{meaning} (reason code {number:#04x}){reason}"))
                }
            })
            .collect(),
    )
}

/// A connection error as an integrator needs it: refusals and broker disconnects with the
/// reason code and its meaning.
fn describe(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code)
        | ConnectionError::MqttState(StateError::ConnFail { reason: code }) => {
            let (number, meaning) = connect_reason(*code);
            format!("the broker refused the connection: {meaning} (reason code {number:#04x})")
        }
        ConnectionError::MqttState(StateError::ServerDisconnect { reason_code, reason_string }) => {
            let reason = reason_string.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("the broker disconnected us: {reason_code:?}{reason}")
        }
        error => error.to_string(),
    }
}

/// The number and meaning of an MQTT 5 CONNACK reason code (MQTT 5.0, section 3.2.2.2).
fn connect_reason(code: ConnectReturnCode) -> (u8, &'static str) {
    use ConnectReturnCode::*;
    match code {
        Success => (0x00, "success"),
        // 3.1.1 return codes, which rumqttc also uses for the MQTT 5 client.
        RefusedProtocolVersion => (0x01, "unacceptable protocol version"),
        BadClientId => (0x02, "client id rejected"),
        ServiceUnavailable => (0x03, "server unavailable"),
        UnspecifiedError => (0x80, "unspecified error"),
        MalformedPacket => (0x81, "malformed packet"),
        ProtocolError => (0x82, "protocol error"),
        ImplementationSpecificError => (0x83, "implementation specific error"),
        UnsupportedProtocolVersion => (0x84, "the broker does not speak mqtt 5"),
        ClientIdentifierNotValid => (0x85, "client id not valid"),
        BadUserNamePassword => (0x86, "bad user name or password"),
        NotAuthorized => (0x87, "not authorized"),
        ServerUnavailable => (0x88, "server unavailable"),
        ServerBusy => (0x89, "server busy"),
        Banned => (0x8a, "banned"),
        BadAuthenticationMethod => (0x8c, "bad authentication method"),
        TopicNameInvalid => (0x90, "topic name invalid"),
        PacketTooLarge => (0x95, "packet too large"),
        QuotaExceeded => (0x97, "quota exceeded"),
        PayloadFormatInvalid => (0x99, "payload format invalid"),
        RetainNotSupported => (0x9a, "retain not supported"),
        QoSNotSupported => (0x9b, "qos not supported"),
        UseAnotherServer => (0x9c, "use another server"),
        ServerMoved => (0x9d, "server moved"),
        ConnectionRateExceeded => (0x9f, "connection rate exceeded"),
    }
}

/// The number and meaning of an MQTT 5 SUBACK reason code (MQTT 5.0, section 3.9.3).
fn subscribe_reason(code: SubscribeReasonCode) -> (u8, &'static str) {
    use SubscribeReasonCode::*;
    match code {
        Success(qos) => (qos as u8, "granted"),
        Failure | Unspecified => (0x80, "unspecified error"),
        ImplementationSpecific => (0x83, "implementation specific error"),
        NotAuthorized => (0x87, "not authorized"),
        TopicFilterInvalid => (0x8f, "topic filter invalid"),
        PkidInUse => (0x91, "packet identifier in use"),
        QuotaExceeded => (0x97, "quota exceeded"),
        SharedSubscriptionsNotSupported => (0x9e, "shared subscriptions not supported"),
        SubscriptionIdNotSupported => (0xa1, "subscription identifiers not supported"),
        WildcardSubscriptionsNotSupported => (0xa2, "wildcard subscriptions not supported"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::MqttProtocol;

    fn v5() -> MqttConfig {
        MqttConfig { protocol: MqttProtocol::V5, ..MqttConfig::default() }
    }

    #[test]
    fn a_persistent_session_is_clean_start_off_with_a_session_expiry() {
        let opts = v5().mqtt5_options().unwrap();
        assert!(!opts.clean_start());
        assert_eq!(opts.session_expiry_interval(), Some(86_400));
        assert_eq!(opts.receive_maximum(), Some(RECEIVE_MAXIMUM));
        assert_eq!(opts.max_packet_size(), Some(16 * 1024 * 1024));
        assert_eq!(opts.broker_address(), ("127.0.0.1".to_owned(), 1883));
        let opts = MqttConfig { session_expiry_s: 60, ..v5() }.mqtt5_options().unwrap();
        assert_eq!(opts.session_expiry_interval(), Some(60));
        // A clean session ends when the connection does.
        let opts = MqttConfig { clean_session: true, ..v5() }.mqtt5_options().unwrap();
        assert!(opts.clean_start());
        assert_eq!(opts.session_expiry_interval(), None);
        let opts =
            MqttConfig { username: Some("u".into()), password: Some("p".into()), ..v5() }.mqtt5_options().unwrap();
        let login = opts.credentials().unwrap();
        assert_eq!((login.username.as_str(), login.password.as_str()), ("u", "p"));
    }

    #[test]
    fn only_a_shorter_session_expiry_from_the_broker_is_worth_a_warning() {
        assert_eq!(shortened_expiry(Some(86_400), Some(3_600)), Some(3_600));
        assert_eq!(shortened_expiry(Some(86_400), None), None, "the broker kept ours");
        assert_eq!(shortened_expiry(Some(3_600), Some(86_400)), None, "longer loses nothing");
        assert_eq!(shortened_expiry(None, Some(60)), None, "a clean session keeps nothing anyway");
    }

    #[test]
    fn reason_codes_have_their_numbers_and_meanings() {
        assert_eq!(connect_reason(ConnectReturnCode::BadUserNamePassword), (0x86, "bad user name or password"));
        assert_eq!(connect_reason(ConnectReturnCode::NotAuthorized), (0x87, "not authorized"));
        assert_eq!(subscribe_reason(SubscribeReasonCode::NotAuthorized), (0x87, "not authorized"));
        assert_eq!(subscribe_reason(SubscribeReasonCode::Success(QoS::AtLeastOnce)), (1, "granted"));
        let refused = describe(&ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized));
        assert_eq!(refused, "the broker refused the connection: not authorized (reason code 0x87)");
    }
}
