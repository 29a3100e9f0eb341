//! HTTP: the embedded web client, the signaling WebSocket, health, and error pages.

use crate::hub::Hub;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State, WebSocketUpgrade};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use moot_protocol::{RoomName, MAX_MESSAGE_BYTES};
use std::net::SocketAddr;
use std::sync::Arc;

/// The web client, compiled into the binary (read from disk in debug builds).
#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/"]
struct WebAssets;

/// No external origins anywhere: the page may only talk to this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/ws", get(websocket))
        .route("/assets/{*path}", get(asset))
        .route("/{room}", get(room_page))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(hub)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed = [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn websocket(
    ws: WebSocketUpgrade,
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    // The address is used only to throttle password guessing; it is never logged or stored.
    let client_ip = peer.ip();
    // Messages between our 256 KiB limit and 1 MiB get a `too_large` error from the session;
    // anything bigger is cut off by the WebSocket layer (close code 1009).
    ws.max_message_size(4 * MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| crate::session::run(socket, hub, client_ip))
}

/// Prometheus text format. Counts only: no room names, no addresses.
async fn metrics(State(hub): State<Arc<Hub>>) -> Response {
    let (rooms, participants) = hub.room_counts();
    let media = hub.media().stats();
    let body = format!(
        "# HELP moot_rooms Rooms in memory.\n# TYPE moot_rooms gauge\nmoot_rooms {rooms}\n\
         # HELP moot_participants Participants in rooms.\n# TYPE moot_participants gauge\nmoot_participants {participants}\n\
         # HELP moot_media_datagrams_received_total UDP datagrams received on the media port.\n# TYPE moot_media_datagrams_received_total counter\nmoot_media_datagrams_received_total {}\n\
         # HELP moot_media_datagrams_sent_total UDP datagrams sent from the media port.\n# TYPE moot_media_datagrams_sent_total counter\nmoot_media_datagrams_sent_total {}\n\
         # HELP moot_media_frames_forwarded_total Media frames written to subscribers.\n# TYPE moot_media_frames_forwarded_total counter\nmoot_media_frames_forwarded_total {}\n\
         # HELP moot_media_keyframe_requests_total Keyframe requests sent to publishers.\n# TYPE moot_media_keyframe_requests_total counter\nmoot_media_keyframe_requests_total {}\n",
        media.datagrams_in, media.datagrams_out, media.frames_forwarded, media.keyframe_requests_sent,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn index() -> Response {
    serve_file("index.html", true)
}

async fn room_page(Path(room): Path<String>) -> Response {
    match RoomName::parse(&room) {
        Ok(_) => serve_file("index.html", true),
        Err(e) => error_page(
            StatusCode::BAD_REQUEST,
            "This is not a valid meeting name",
            &e.to_string(),
        ),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    serve_file(&format!("assets/{path}"), false)
}

async fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address.",
    )
}

fn serve_file(path: &str, no_cache: bool) -> Response {
    let Some(file) = WebAssets::get(path) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing at this address.",
        );
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if no_cache {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    Response::builder()
        .header(header::CONTENT_TYPE, mime.as_ref())
        .header(header::CACHE_CONTROL, cache)
        .body(Body::from(file.data.into_owned()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A small self-contained page (styled by the client's stylesheet, no script needed).
fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Moot</title><link rel=\"stylesheet\" href=\"/assets/css/moot.css\"></head>\
         <body><main class=\"error-page\"><h1>{title}</h1><p role=\"alert\">{detail}</p>\
         <p>Meeting names may use the letters A–Z, digits, “-” and “_”, up to 128 characters.</p>\
         <p><a href=\"/\">Start a meeting</a></p></main></body></html>\n",
        title = escape_html(title),
        detail = escape_html(detail),
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_escape_their_text() {
        assert_eq!(
            escape_html("<a href='x'>&"),
            "&lt;a href=&#39;x&#39;&gt;&amp;"
        );
    }
}
