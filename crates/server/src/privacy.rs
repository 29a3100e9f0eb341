//! `/privacy`: what this instance processes, for how long, and who runs it. Rendered by the
//! server (no script), with the same security headers as every page; every piece of text from
//! the configuration is escaped.

use crate::config::Config;
use crate::html::escape_html;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub fn page(config: &Config) -> Response {
    let contact = config.privacy.operator_contact.trim();
    let operator = if contact.is_empty() {
        "<p>The operator of this instance has not published contact details \
         (configuration key <code>privacy.operator_contact</code>).</p>"
            .to_owned()
    } else {
        format!(
            "<p>This instance is run by: <strong id=\"operator-contact\">{}</strong></p>",
            escape_html(contact)
        )
    };
    let turn = if config.turn.urls.is_empty() {
        String::new()
    } else {
        "<li><strong>Relay (TURN).</strong> When a direct connection is not possible, your \
         encrypted media may pass through this operator's relay server. It sees your network \
         address and the amount of data, not the content. The access it hands your browser \
         expires after at most "
            .to_owned()
            + &format!("{} hours.</li>", config.turn.ttl_seconds.div_ceil(3600))
    };
    let recording = if config.recording.directory.is_some() {
        let kept = match config.recording.keep_days {
            0 => "until the operator deletes them".to_owned(),
            1 => "for 1 day, then deleted".to_owned(),
            days => format!("for {days} days, then deleted"),
        };
        format!(
            "Not stored, unless a moderator of your meeting starts a recording: then everyone \
             in the meeting is told, for as long as it lasts, and this server keeps each \
             person's audio and video as files its operator can read, {kept}. An end-to-end \
             encrypted meeting is never recorded by the server."
        )
    } else {
        "Never recorded, never stored: this server does not record meetings.".to_owned()
    };
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Privacy · Moot</title><link rel=\"stylesheet\" href=\"/assets/css/moot.css\"></head>\
         <body><main class=\"privacy-page\"><h1>Privacy</h1>\
         {operator}\
         <h2>What is processed</h2><ul>\
         <li><strong>Your display name, your microphone and camera state, a raised hand, chat \
         messages.</strong> Sent to the other people in the same meeting. Kept in this server's \
         memory only while the meeting lasts; when the last person leaves, the meeting and \
         everything in it are gone.</li>\
         <li><strong>Your audio and video.</strong> Forwarded by this server to the other people \
         in the meeting, encrypted in transit (DTLS-SRTP). {recording}</li>\
         <li><strong>The meeting's name.</strong> Kept in memory while the meeting lasts, to \
         bring its participants together.</li>\
         <li><strong>Your network address.</strong> Needed to deliver media to you. Kept in \
         memory while you are connected, to count connections per address (an abuse limit) and \
         to slow down password guessing (for at most a few minutes after the last wrong \
         guess).</li>\
         {turn}</ul>\
         <h2>What is not done</h2><ul>\
         <li>Nothing about a meeting is written to disk.</li>\
         <li>The server's logs, at their default level, contain no network addresses, names, \
         meeting names or chat.</li>\
         <li>No accounts, no cookies for tracking, no analytics. The page loads nothing from \
         other sites: no fonts, no scripts, no images from elsewhere.</li>\
         <li>The only thing kept across restarts is this server's own certificate, if it \
         generated one.</li></ul>\
         <p>Counts without names (how many meetings and people right now, how much media) are \
         kept for operating the service.</p>\
         <p><a href=\"/\">Start a meeting</a></p></main></body></html>\n"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(config: &Config) -> String {
        let response = page(config);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn shows_the_operator_contact_escaped() {
        let mut config = Config::default();
        config.privacy.operator_contact = "Ops <script>alert(1)</script> & Co".into();
        let html = text(&config).await;
        assert!(html.contains("Ops &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("written to disk"));
    }

    #[tokio::test]
    async fn says_when_no_contact_is_configured() {
        let html = text(&Config::default()).await;
        assert!(html.contains("privacy.operator_contact"));
        assert!(!html.contains("Relay (TURN)"));
    }
}
