//! In-process tests of ICE-TCP framing and limits: a real listener on loopback, plain TCP
//! clients writing frames by hand.

use super::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A STUN binding request header (what `is_stun` accepts) plus `extra` bytes of body.
fn stun(extra: u8) -> Vec<u8> {
    let mut msg = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    msg.extend_from_slice(&[extra; 12]);
    msg
}

fn frame(packet: &[u8]) -> Vec<u8> {
    let mut out = (packet.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(packet);
    out
}

struct Harness {
    media: TcpMedia,
    addr: SocketAddr,
    inbound: mpsc::UnboundedReceiver<Inbound>,
}

async fn start(limits: TcpLimits) -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound");
    let (tx, inbound) = mpsc::unbounded_channel();
    let media = TcpMedia::start(listener, limits, move |packet| {
        let _ = tx.send(packet);
    });
    Harness {
        media,
        addr,
        inbound,
    }
}

async fn next(h: &mut Harness) -> Inbound {
    tokio::time::timeout(Duration::from_secs(5), h.inbound.recv())
        .await
        .expect("a packet within 5 s")
        .expect("deliver channel open")
}

/// True when the server closed the connection (EOF or reset) within 5 s.
async fn closed_by_server(client: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn frames_split_across_writes_and_packed_into_one_arrive_whole_and_in_order() {
    let mut h = start(TcpLimits::default()).await;
    let mut client = TcpStream::connect(h.addr).await.expect("connect");
    client.set_nodelay(true).expect("nodelay");
    let first = frame(&stun(1));
    // One frame dribbled in byte by byte, header included.
    for byte in &first {
        client.write_all(&[*byte]).await.expect("write");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let got = next(&mut h).await;
    assert_eq!(got.packet, stun(1));
    assert_eq!(got.source, client.local_addr().expect("addr"));
    assert_eq!(got.local, h.addr);
    // Three frames in one write, the last one split with the next write.
    let mut burst = frame(&[0x80; 100]);
    burst.extend(frame(&[0x81; 1200]));
    let last = frame(&[0x82; 700]);
    burst.extend_from_slice(&last[..300]);
    client.write_all(&burst).await.expect("write");
    tokio::time::sleep(Duration::from_millis(20)).await;
    client.write_all(&last[300..]).await.expect("write");
    assert_eq!(next(&mut h).await.packet, vec![0x80; 100]);
    assert_eq!(next(&mut h).await.packet, vec![0x81; 1200]);
    assert_eq!(next(&mut h).await.packet, vec![0x82; 700]);
}

#[tokio::test]
async fn an_oversize_frame_closes_the_connection() {
    let mut h = start(TcpLimits::default()).await;
    let mut client = TcpStream::connect(h.addr).await.expect("connect");
    client.write_all(&frame(&stun(2))).await.expect("write");
    next(&mut h).await;
    // Only the header of a too-large frame: the server must not wait for (or buffer) it.
    client
        .write_all(&2049u16.to_be_bytes())
        .await
        .expect("write");
    assert!(closed_by_server(&mut client).await);
    assert!(h.inbound.try_recv().is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(h.media.connections(), 0, "the connection left the registry");
}

#[tokio::test]
async fn garbage_before_the_first_stun_message_closes_the_connection() {
    let mut h = start(TcpLimits::default()).await;
    let mut client = TcpStream::connect(h.addr).await.expect("connect");
    // An HTTP request is not ICE-TCP.
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(closed_by_server(&mut client).await);
    // RTP before STUN is refused too: only an ICE check may open a connection.
    let mut client = TcpStream::connect(h.addr).await.expect("connect");
    let mut bytes = frame(&[0x80; 40]);
    bytes.extend(frame(&stun(3)));
    client.write_all(&bytes).await.expect("write");
    assert!(closed_by_server(&mut client).await);
    assert!(h.inbound.try_recv().is_err(), "nothing was delivered");
}

#[tokio::test]
async fn send_frames_packets_to_the_connection_of_that_address() {
    let mut h = start(TcpLimits::default()).await;
    let mut client = TcpStream::connect(h.addr).await.expect("connect");
    client.write_all(&frame(&stun(4))).await.expect("write");
    let source = next(&mut h).await.source;
    assert!(h.media.send(source, &[1, 2, 3]));
    assert!(h.media.send(source, &[9; 1300]));
    let mut got = vec![0u8; 2 + 3 + 2 + 1300];
    tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut got))
        .await
        .expect("frames within 5 s")
        .expect("read");
    let mut want = frame(&[1, 2, 3]);
    want.extend(frame(&[9; 1300]));
    assert_eq!(got, want);
    let elsewhere: SocketAddr = "127.0.0.1:9".parse().expect("literal");
    assert!(!h.media.send(elsewhere, &[1]), "no connection from there");
    assert!(!h.media.send(source, &vec![0; 70_000]), "cannot be framed");
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_drops_instead_of_waiting() {
    let mut h = start(TcpLimits {
        queue: 2,
        ..TcpLimits::default()
    })
    .await;
    let mut client = TcpStream::connect(h.addr).await.expect("connect");
    client.write_all(&frame(&stun(5))).await.expect("write");
    let source = next(&mut h).await.source;
    // On this single-threaded runtime the writer cannot run between these calls.
    assert!(h.media.send(source, &[1]));
    assert!(h.media.send(source, &[2]));
    assert!(!h.media.send(source, &[3]), "third packet dropped");
    let mut got = [0u8; 6];
    client.read_exact(&mut got).await.expect("read");
    assert_eq!(got, [0, 1, 1, 0, 1, 2]);
}

#[tokio::test]
async fn connections_per_ip_and_in_total_are_limited() {
    let h = start(TcpLimits {
        max_per_ip: 2,
        max_total: 3,
        ..TcpLimits::default()
    })
    .await;
    let a = TcpStream::connect(h.addr).await.expect("connect");
    let b = TcpStream::connect(h.addr).await.expect("connect");
    let mut c = TcpStream::connect(h.addr).await.expect("connect");
    assert!(
        closed_by_server(&mut c).await,
        "third from 127.0.0.1 refused"
    );
    assert_eq!(h.media.connections(), 2);
    drop(a);
    // A closed connection frees its place (after the server notices the EOF).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.media.connections(), 1);
    let _d = TcpStream::connect(h.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(h.media.connections(), 2);
    drop(b);
}

#[tokio::test]
async fn total_limit_counts_every_address() {
    let h = start(TcpLimits {
        max_total: 2,
        ..TcpLimits::default()
    })
    .await;
    // Clients from three different loopback addresses: each IP is under its own limit.
    let addr = h.addr;
    let from = |ip: &'static str| async move {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(ip.parse().expect("ip"), 0))
            .expect("bind source");
        socket.connect(addr).await.expect("connect")
    };
    let a = from("127.0.0.1").await;
    let b = from("127.0.0.2").await;
    assert_ne!(
        a.local_addr().expect("a").ip(),
        b.local_addr().expect("b").ip()
    );
    let mut c = from("127.0.0.3").await;
    assert!(closed_by_server(&mut c).await);
    assert_eq!(h.media.connections(), 2);
}

#[tokio::test]
async fn a_connection_the_sfu_never_answers_is_closed_after_the_handshake_timeout() {
    let mut h = start(TcpLimits {
        handshake_timeout: Duration::from_millis(300),
        ..TcpLimits::default()
    })
    .await;
    let mut ignored = TcpStream::connect(h.addr).await.expect("connect");
    ignored.write_all(&frame(&stun(6))).await.expect("write");
    next(&mut h).await;
    let mut answered = TcpStream::connect(h.addr).await.expect("connect");
    answered.write_all(&frame(&stun(7))).await.expect("write");
    let source = next(&mut h).await.source;
    assert!(h.media.send(source, &stun(8)));
    assert!(closed_by_server(&mut ignored).await);
    // The answered one stays open past the handshake timeout.
    let mut got = vec![0u8; 22];
    answered.read_exact(&mut got).await.expect("answer");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.media.connections(), 1);
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let mut h = start(TcpLimits {
        idle_timeout: Duration::from_millis(300),
        ..TcpLimits::default()
    })
    .await;
    let mut client = TcpStream::connect(h.addr).await.expect("connect");
    client.write_all(&frame(&stun(9))).await.expect("write");
    let source = next(&mut h).await.source;
    assert!(h.media.send(source, &[0]));
    // Half a frame and then silence: the frame must complete within the idle timeout.
    client.write_all(&[0, 50, 1, 2]).await.expect("write");
    assert!(closed_by_server(&mut client).await);
}

#[tokio::test]
async fn dropping_the_last_handle_closes_listener_and_connections() {
    let mut h = start(TcpLimits::default()).await;
    let mut client = TcpStream::connect(h.addr).await.expect("connect");
    client.write_all(&frame(&stun(10))).await.expect("write");
    next(&mut h).await;
    let addr = h.addr;
    drop(h);
    assert!(closed_by_server(&mut client).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn the_listener_takes_the_udp_port_number_unless_told_otherwise() {
    let ip: IpAddr = "127.0.0.1".parse().expect("ip");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = udp.local_addr().expect("bound").port();
    let same = bind(ip, None, port, false)
        .await
        .expect("bind")
        .expect("on");
    assert_eq!(same.local_addr().expect("bound").port(), port);
    assert!(bind(ip, Some(0), port, false).await.expect("off").is_none());
    // The number is taken now (by `same`): a fixed port fails loudly, an ephemeral one moves.
    assert!(bind(ip, None, port, false).await.is_err());
    let moved = bind(ip, None, port, true).await.expect("bind").expect("on");
    assert_ne!(moved.local_addr().expect("bound").port(), port);
}
