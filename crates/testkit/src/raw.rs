//! A hand-written signaling client for hostile-client tests: raw WebSocket, no media.

use futures_util::{SinkExt, StreamExt};
use moot_protocol::ServerMessage;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to the signaling WebSocket at `url`. Panics (tests only) when it cannot.
pub async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("connects")
        .0
}

/// The next server message (skipping pings), or None once the server closed. Panics if the
/// server says nothing for 5 s: every input gets an answer or a close.
pub async fn next(ws: &mut Ws) -> Option<ServerMessage> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("server answers within 5 s");
        match frame {
            Some(Ok(Message::Text(t))) => {
                return Some(serde_json::from_str(t.as_str()).expect("server sends valid JSON"))
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Sends one text frame.
pub async fn text(ws: &mut Ws, body: impl Into<String>) {
    ws.send(Message::Text(body.into().into()))
        .await
        .expect("sends");
}
