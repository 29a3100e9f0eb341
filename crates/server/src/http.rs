//! HTTP: the embedded web client, the signaling WebSocket, health, and error pages.

use crate::config::Config;
use crate::html::escape_html;
use crate::hub::Hub;
use crate::limits::Limits;
use crate::tls::ClientAddr;
use axum::body::Body;
use axum::extract::ws::Message;
use axum::extract::{ConnectInfo, Path, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use moot_protocol::{RoomName, MAX_MESSAGE_BYTES};
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

/// What every handler can see.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub limits: Arc<Limits>,
    pub config: Arc<Config>,
    pub rates: Arc<crate::metrics::Rates>,
    /// The built-in TURN relay's counters, when it runs.
    pub turn: Option<Arc<crate::turn_server::TurnStats>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/privacy", get(privacy))
        .route("/api/ws", get(websocket))
        .route("/assets/{*path}", get(asset))
        .route("/{room}", get(room_page))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// 200 while serving; 503 once shutdown has begun, so a load balancer stops sending people.
async fn healthz(State(state): State<AppState>) -> Response {
    if state.limits.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        "ok\n".into_response()
    }
}

async fn privacy(State(state): State<AppState>) -> Response {
    crate::privacy::page(&state.config)
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
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
) -> Response {
    // The address is used only to throttle password guessing and to count connections per
    // address while they are open; it is never logged or stored. Behind a trusted reverse
    // proxy it is the address the proxy reports (client_ip.rs); from anyone else, the peer's.
    let client_ip = crate::client_ip::client_ip(
        peer.ip(),
        &headers,
        &state.config.http.trusted_proxies,
        state.config.http.trusted_proxy_header,
    );
    let slot = state.limits.connect(client_ip);
    let context = state.limits.session_context();
    let limit = state.limits.connections_per_address();
    // Messages between our 256 KiB limit and 1 MiB get a `too_large` error from the session;
    // anything bigger is cut off by the WebSocket layer (close code 1009).
    ws.max_message_size(4 * MAX_MESSAGE_BYTES)
        .on_upgrade(move |mut socket| async move {
            match slot {
                Ok(slot) => {
                    crate::session::run(socket, state.hub, client_ip, context).await;
                    drop(slot);
                }
                Err(refusal) => {
                    // Upgrade first so the browser gets a reason it can show, then close.
                    let message = refusal.message(limit);
                    context.metrics.count_sent(&message);
                    let _ = socket.send(Message::Text(message.to_json().into())).await;
                    let _ = socket.send(Message::Close(None)).await;
                }
            }
        })
}

/// Prometheus text format. Counts only: no room names, no addresses.
async fn metrics(State(state): State<AppState>) -> Response {
    let turn = state.turn.as_deref();
    let body = crate::metrics::render(&state.hub, &state.limits, &state.rates, turn);
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
pub(crate) fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
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
