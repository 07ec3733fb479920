//! One QoS 1 publish from a short-lived 3.1.1 client, waiting for the broker's PubAck.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::Duration;

/// Hang guard; not a timed assertion.
const GUARD: Duration = Duration::from_secs(60);

/// Connects with `opts`, publishes `payload` to `topic` at QoS 1, waits for its PubAck (retrying
/// the connection meanwhile) and disconnects.
pub async fn publish_acknowledged(opts: MqttOptions, topic: &str, payload: &[u8]) {
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    client.publish(topic, QoS::AtLeastOnce, false, payload.to_vec()).await.unwrap();
    tokio::time::timeout(GUARD, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => break,
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("publish to `{topic}` not acknowledged"));
    client.disconnect().await.ok();
    let _ = tokio::time::timeout(Duration::from_secs(2), eventloop.poll()).await;
}
